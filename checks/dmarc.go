package checks

import "context"

// checkDMARC is being written: see the issue notes.
func checkDMARC(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
