package opensearchtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authenticate checks a request's credentials and returns the response that rejects
// it, or nil to serve it.
func (s *Server) authenticate(r *http.Request, body []byte) *response {
	switch s.opts.Auth {
	case AuthBasic:
		user, pass, ok := r.BasicAuth()
		if !ok || user != s.opts.Username || pass != s.opts.Password {
			// The security plugin answers a plain-text 401 with a challenge.
			return &response{status: http.StatusUnauthorized, body: "Unauthorized",
				header: http.Header{"Www-Authenticate": {`Basic realm="OpenSearch Security"`}}}
		}
	case AuthSigV4:
		if reason := s.checkSigV4(r, body); reason != "" {
			return s.sigV4Rejection(reason)
		}
	}
	return nil
}

// sigV4Rejection is the 403 an AWS endpoint answers for a bad signature: a JSON
// {"message": …} for es, and an OpenSearch-style error for aoss.
func (s *Server) sigV4Rejection(reason string) *response {
	if s.opts.Service == "aoss" {
		return &response{status: http.StatusForbidden, body: map[string]any{
			"status": http.StatusForbidden,
			"error":  map[string]any{"type": "Forbidden", "reason": reason},
		}}
	}
	return &response{status: http.StatusForbidden, body: map[string]any{"message": reason}}
}

// checkSigV4 returns why a request is not correctly signed for the server's service
// and region, or "".
func (s *Server) checkSigV4(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "Missing Authentication Token: the request is not signed (no Authorization header)"
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "Authorization header requires the AWS4-HMAC-SHA256 algorithm; got " + strings.SplitN(auth, " ", 2)[0]
	}
	parts := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return "Authorization header is malformed: " + p
		}
		parts[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if parts[k] == "" {
			return "Authorization header requires '" + k + "' parameter"
		}
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "Credential should be scoped to a valid region, service and aws4_request terminator: " + parts["Credential"]
	}
	accessKey, day, region, service := scope[0], scope[1], scope[2], scope[3]
	if service != s.opts.Service {
		return "Credential should be scoped to correct service: '" + s.opts.Service + "', not '" + service + "'"
	}
	if region != s.opts.Region {
		return "Credential should be scoped to a valid region, not '" + region + "'; this endpoint is in " + s.opts.Region
	}
	if len(parts["Signature"]) != 64 {
		return "Signature is not a hex SHA-256: " + parts["Signature"]
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header"
	}
	at, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return "X-Amz-Date is not in the ISO 8601 basic format: " + amzDate
	}
	if at.Format("20060102") != day {
		return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + day + "' != '" + at.Format("20060102") + "'"
	}
	if d := time.Since(at); d > 15*time.Minute || d < -15*time.Minute {
		return "Signature expired: " + amzDate + " is more than 15 minutes from now"
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return "SignedHeaders must include " + h + "; got " + parts["SignedHeaders"]
		}
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case payloadHash == "" && s.opts.Service == "aoss":
		return "Amazon OpenSearch Serverless requires the X-Amz-Content-Sha256 header"
	case payloadHash != "" && payloadHash != bodyHash:
		return "The provided 'x-amz-content-sha256' header does not match what was computed: header " + payloadHash + ", body " + bodyHash
	case payloadHash == "":
		payloadHash = bodyHash
	}
	if s.opts.Credentials.AccessKeyID == "" {
		return ""
	}
	if accessKey != s.opts.Credentials.AccessKeyID {
		return "The security token included in the request is invalid: unknown access key " + accessKey
	}
	if want := s.signature(r, signed, payloadHash, at); want != parts["Signature"] {
		return "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	}
	return ""
}

// signature recomputes the signature of r over the headers it says it signed, with
// the server's credentials.
func (s *Server) signature(r *http.Request, signed []string, payloadHash string, at time.Time) string {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	req, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), bytes.NewReader(nil))
	if err != nil {
		return ""
	}
	req.URL = u
	req.Host = r.Host
	req.ContentLength = 0
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(h); len(vs) > 0 {
				req.Header[http.CanonicalHeaderKey(h)] = vs
			}
		}
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), s.opts.Credentials, req, payloadHash, s.opts.Service, s.opts.Region, at); err != nil {
		return ""
	}
	_, sig, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	return sig
}
