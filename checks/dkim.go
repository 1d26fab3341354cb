package checks

import "context"

// checkDKIM is being written: see the issue notes.
func checkDKIM(ctx context.Context, env *Env, domain string) Result {
	return Result{}
}
