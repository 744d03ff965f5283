package chtest

import "syscall"

// sysProcAttr has the kernel kill the server if the test binary dies without
// calling Stop (a panic, a timeout, ^C), so no server outlives its tests.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
