package queue

// Counts says how the settled attempt st counts in throughput
// ([Stats].Throughput, [MinuteStats]), in the minute of st.Now: a
// completion as completed, a failure that will be retried as failed, a
// death as dead and, when it has an error, as failed too. Snoozes,
// releases and cancellations count nothing (all zero). Backends add these
// counts for every settlement that took effect.
func (st Settlement) Counts() (completed, failed, dead int) {
	switch st.Outcome {
	case OutcomeComplete:
		return 1, 0, 0
	case OutcomeRetry:
		return 0, 1, 0
	case OutcomeDead:
		if st.Error != nil {
			return 0, 1, 1
		}
		return 0, 0, 1
	}
	return 0, 0, 0
}
