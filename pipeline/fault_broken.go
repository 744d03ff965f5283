//go:build leadscore_broken_restore

package pipeline

// Built with -tags leadscore_broken_restore, the engine skips restoring
// partition state: a deliberately broken build that the crash-recovery test
// runs to show it would catch a recovery bug.
func init() { brokenRestore = true }
