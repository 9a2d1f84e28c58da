// Package soak is `make soak`: hundreds of random interruptions on one real
// plane (the harness's kube-apiserver, controller-manager, scheduler, etcd
// and kwok), with AEMM behind a fault proxy for each agent node, moto for
// queue mode, and a fault proxy in front of every handler's API connection.
//
// Scenarios run in waves of several nodes at once; each node's scenario is
// drawn from a seeded generator (Draw: workload, signal and mode, API,
// IMDS and process faults) and each wave's controller faults from the same
// seed (DrawWave), so `make soak SEED=… ONLY=wave:node` replays one. On
// every scenario the soak checks the one promise: every pod that must
// leave is gone before deadline − margin; no DaemonSet pod is touched; no
// handler crashes or panics; a lifecycle action is completed CONTINUE only
// after its node is empty, and never for another cluster's instance; a
// withdrawn notice leaves the node schedulable; the long-lived controllers'
// goroutines and heap stay flat across waves.
//
// Scenario and DrawWave are pure (scenario_test.go runs under -short); the
// rest lives in the _test files and needs the peers (`make tools`, moto).
package soak
