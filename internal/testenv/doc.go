// Package testenv starts the real peers spot-handler is tested against, on
// loopback, from binaries built by hack/tools.sh (`make tools`):
//
//   - a Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager
//     and kube-scheduler v1.37.2, with kwok simulating the kubelets of the
//     nodes a test creates (pods turn Running, and when evicted or deleted go
//     away within their grace period as on a real node);
//   - amazon-ec2-metadata-mock (AEMM), AWS's instance metadata simulator.
//
// Tests call Start(t) or StartAEMM(t, ...); `make demo` and the benchmarks
// call StartPlane. Every process binds 127.0.0.1 on a free port, lives in a
// temporary folder and is stopped by Stop (or the test's cleanup). A peer that
// cannot start is an error naming the binary, the port and the tail of its
// log: tests fail with it, they never skip.
package testenv
