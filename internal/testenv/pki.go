package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeServiceAccountKey writes a fresh RSA key (PKCS#1 PEM) for signing and
// verifying service account tokens, and returns its path.
func writeServiceAccountKey(dir string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generating service account key: %w", err)
	}
	p := filepath.Join(dir, "sa.key")
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", fmt.Errorf("writing service account key: %w", err)
	}
	return p, nil
}

// randomToken returns 32 hex characters.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeTokenFile writes the apiserver's static token file with one admin
// user in system:masters, and returns its path.
func writeTokenFile(dir, token string) (string, error) {
	p := filepath.Join(dir, "tokens.csv")
	line := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", token)
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("writing token file: %w", err)
	}
	return p, nil
}

// writeKubeconfig writes a kubeconfig for cfg (bearer token, CA file) and
// returns its path.
func writeKubeconfig(dir string, cfg *rest.Config) (string, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile, InsecureSkipTLSVerify: cfg.Insecure}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	kc.CurrentContext = "local"
	p := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		return "", fmt.Errorf("writing kubeconfig: %w", err)
	}
	return p, nil
}
