"""The container runtime: the only code that spawns, signals or inspects processes.

base.ContainerRuntime   the seam the engine uses (a Protocol, like the kubelet's CRI)
local.LocalRuntime      real processes: pidfds, process tags, log pipes, cgroups
fake.FakeRuntime        scripted processes on virtual time, for the engine's tests
"""
