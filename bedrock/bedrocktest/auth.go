package bedrocktest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// errAPIKey is Bedrock's refusal of an API key it does not know.
var errAPIKey = errors.New("Authentication failed: Please make sure your API Key is valid.") //lint:ignore ST1005 Bedrock's own message

// checkAuth checks a request's credentials as Bedrock Runtime does: a Bedrock API key
// sent as "Authorization: Bearer <key>", which must be Options.APIKey, or else a SigV4
// signature for the bedrock service (checkSigV4). The error's text is Bedrock's message.
func (s *Server) checkAuth(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	if !bearer {
		return checkSigV4(auth, r.Header.Get("X-Amz-Date"))
	}
	if s.opts.APIKey == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.APIKey)) != 1 {
		return errAPIKey

	}
	return nil
}
