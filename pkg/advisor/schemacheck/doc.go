// Package schemacheck holds no code, only the tests that check the advisor's
// kops, Karpenter and eksctl outputs against those projects' own schemas: the
// CRDs applied to a local kube-apiserver (server-side dry run) and eksctl's
// published JSON schema. They live apart from package advisor so that its
// fuzz target is not built with the Kubernetes client's weight.
package schemacheck
