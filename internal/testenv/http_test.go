package testenv

import (
	"io"
	"net/http"
)

type httpResp struct {
	code int
	body string
}

func httpGet(url string) (httpResp, error) {
	resp, err := http.Get(url)
	if err != nil {
		return httpResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpResp{resp.StatusCode, string(b)}, err
}
