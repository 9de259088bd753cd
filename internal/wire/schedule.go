package wire

import (
	"time"

	"github.com/spooljobs/spool/schedule"
)

// Schedule is a periodic schedule: its definition, its next and previous
// runs, whether it is paused, and when a pending trigger was requested.
// Registered is true for a schedule added to the scheduler that answered
// (false for one known only from the store).
type Schedule struct {
	Name               string     `json:"name"`
	Spec               string     `json:"spec"`
	TimeZone           string     `json:"time_zone"`
	Kind               string     `json:"kind"`
	Queue              string     `json:"queue"`
	Misfire            string     `json:"misfire"`
	NextRun            *time.Time `json:"next_run"`
	PrevRun            *time.Time `json:"prev_run"`
	Paused             bool       `json:"paused"`
	TriggerRequestedAt *time.Time `json:"trigger_requested_at"`
	Registered         bool       `json:"registered"`
}

// NewSchedule returns i's JSON form.
func NewSchedule(i schedule.Info) Schedule {
	return Schedule{Name: i.Name, Spec: i.Spec, TimeZone: i.TimeZone, Kind: i.Kind, Queue: i.Queue,
		Misfire: string(i.Misfire), NextRun: UTC(i.Next), PrevRun: UTC(i.Prev), Paused: i.Paused,
		TriggerRequestedAt: UTC(i.TriggerAt), Registered: i.Registered}
}

// Schedules is the list of schedules.
type Schedules struct {
	Schedules []Schedule `json:"schedules"`
	// NextAfter, when set, is the name to pass as "after" for the next
	// page.
	NextAfter string `json:"next_after,omitempty"`
}

// NewSchedules returns the list's JSON form.
func NewSchedules(list []schedule.Info) Schedules {
	out := Schedules{Schedules: make([]Schedule, len(list))}
	for i, s := range list {
		out.Schedules[i] = NewSchedule(s)
	}
	return out
}
