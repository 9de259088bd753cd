package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// Handle registers h for jobs of kind. Mistakes (an invalid kind, a nil
// handler, a kind registered twice, registering after Start, a handler
// from JSON whose argument type names another kind with its Kind method)
// are reported by Start.
func (p *Pool) Handle(kind string, h Handler) {
	mismatch := kindMismatch(kind, h) // calls user code: not under p.mu
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.started:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle(%q) after Start", kind))
	case queue.ValidName(kind) != nil:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle: kind: %w", queue.ValidName(kind)))
	case h == nil:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle(%q): nil handler", kind))
	case p.handlers[kind] != nil:
		p.regErrs = append(p.regErrs, fmt.Errorf("worker: Handle(%q): kind registered twice", kind))
	case mismatch != nil:
		p.regErrs = append(p.regErrs, mismatch)
	default:
		p.handlers[kind] = h
	}
}

// HandleFunc registers f for jobs of kind.
func (p *Pool) HandleFunc(kind string, f func(ctx context.Context, job *queue.Job) error) {
	p.Handle(kind, HandlerFunc(f))
}

// Use adds middleware around every handler; the first added is outermost.
func (p *Pool) Use(mw ...Middleware) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		p.regErrs = append(p.regErrs, errors.New("worker: Use after Start"))
		return
	}
	p.mws = append(p.mws, mw...)
}

// chain returns the pool's handler: dispatch by kind, wrapped in the
// middleware, and in the queue's Observer's report of each attempt.
// p.mu must be held.
func (p *Pool) chain() Handler {
	var h Handler = HandlerFunc(p.dispatch)
	for i := len(p.mws) - 1; i >= 0; i-- {
		h = p.mws[i](h)
	}
	return p.observed(h)
}

// dispatch runs the handler registered for job's kind.
func (p *Pool) dispatch(ctx context.Context, job *queue.Job) error {
	h := p.handlers[job.Kind] // read-only after Start
	if h == nil {
		return fmt.Errorf("%w %q (this pool handles %d kinds; register it with Pool.Handle)", ErrNoHandler, job.Kind, len(p.handlers))
	}
	return h.Work(ctx, job)
}
