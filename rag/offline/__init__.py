"""Zero network: the offline environment, the in-process guard and the seccomp sandbox."""
