package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
)

// OrderStatus is what GET /orders/{id} answers: the order and its
// fulfilment steps.
type OrderStatus struct {
	OrderID    int64        `json:"order_id"`
	Customer   string       `json:"customer"`
	SKU        string       `json:"sku"`
	Quantity   int          `json:"quantity"`
	TotalCents int          `json:"total_cents"`
	Paid       bool         `json:"paid"`
	Steps      []StepStatus `json:"steps"`
}

// StepStatus is one fulfilment step of an order: its job, and the job's
// state as the store has it now.
type StepStatus struct {
	Step     string   `json:"step"`
	JobID    int64    `json:"job_id"`
	Kind     string   `json:"kind,omitempty"`
	WaitsFor []string `json:"waits_for,omitempty"` // the steps it waits for
	// State is the job's state; "gone" once a completed job's retention
	// (Options.KeepCompleted) ended and it was deleted.
	State       string          `json:"state"`
	Attempt     int             `json:"attempt,omitempty"`
	AttemptedAt *time.Time      `json:"attempted_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
}

// order_steps: an order's step jobs, written with the order.
const selectOrder = `SELECT customer, sku, quantity, total_cents, paid FROM orders WHERE id = $1`
const selectOrderSteps = `SELECT step, job_id FROM order_steps WHERE order_id = $1 ORDER BY job_id`

// orderStatus reads order id and its steps' jobs; nil when there is no
// such order.
func (s *shop) orderStatus(ctx context.Context, id int64) (*OrderStatus, error) {
	st := &OrderStatus{OrderID: id}
	var paid int
	err := s.db.QueryRowContext(ctx, selectOrder, id).Scan(&st.Customer, &st.SKU, &st.Quantity, &st.TotalCents, &paid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st.Paid = paid != 0
	rows, err := s.db.QueryContext(ctx, selectOrderSteps, id)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var step StepStatus
		if err := rows.Scan(&step.Step, &step.JobID); err != nil {
			rows.Close()
			return nil, err
		}
		st.Steps = append(st.Steps, step)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	in := s.q.Inspector()
	for i := range st.Steps {
		step := &st.Steps[i]
		j, err := in.Get(ctx, step.JobID)
		if errors.Is(err, queue.ErrNotFound) {
			step.State = "gone"
			continue
		}
		if err != nil {
			return nil, err
		}
		step.Kind, step.State, step.Attempt = j.Kind, string(j.State), j.Attempt
		if !j.AttemptedAt.IsZero() {
			step.AttemptedAt = &j.AttemptedAt
		}
		if !j.FinishedAt.IsZero() {
			step.FinishedAt = &j.FinishedAt
		}
		step.Output = j.Output
		if n := len(j.Errors); n > 0 {
			step.LastError = j.Errors[n-1].Message
		}
		deps, err := in.Dependencies(ctx, step.JobID)
		if err != nil {
			return nil, err
		}
		for _, p := range deps.Parents {
			for k := range st.Steps[:i] {
				if st.Steps[k].JobID == p.ID {
					step.WaitsFor = append(step.WaitsFor, st.Steps[k].Step)
				}
			}
		}
	}
	return st, nil
}

// getOrder serves GET /orders/{id}: the order and its steps as JSON.
func (s *shop) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "bad order id: "+strconv.Quote(r.PathValue("id")), http.StatusBadRequest)
		return
	}
	st, err := s.orderStatus(r.Context(), id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if st == nil {
		http.Error(w, "no order "+strconv.FormatInt(id, 10), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}
