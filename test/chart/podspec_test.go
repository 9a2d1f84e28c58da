package chart_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// mountsOf returns the first container's mount paths and the pod's volumes,
// both by volume name, failing t for each mount that is not read-only.
func mountsOf(t *testing.T, spec corev1.PodSpec) (map[string]string, map[string]corev1.Volume) {
	t.Helper()
	mounts := map[string]string{}
	for _, m := range spec.Containers[0].VolumeMounts {
		mounts[m.Name] = m.MountPath
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted read-write", m.Name)
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	return mounts, vols
}
