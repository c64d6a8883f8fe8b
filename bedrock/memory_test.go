package bedrock_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// sdkCallState is a value put in the SDK's context of a call, standing for the
// middleware state the SDK keeps there (kilobytes per call).
type sdkCallState [4096]byte

type sdkCallStateKey struct{}

// An open stream lets go of the SDK's per-call state once the answer has started: at a
// thousand open streams, that state was a tenth of the server's memory. The SDK's
// context of the call holds a value (put there by a middleware of the test), and a weak
// pointer to that value must be cleared by a collection while the stream is still open.
func TestOpenStreamHoldsNoSDKCallState(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, tls := range []bool{false, true} {
		srv := newServer(t, bedrocktest.Options{TLS: tls, TokenDelay: 20 * time.Millisecond,
			Reply: func(*bedrocktest.Request) bedrocktest.Reply {
				return bedrocktest.Reply{Tokens: []string{"a ", "b ", "c ", "d ", "e ", "f ", "g ", "h "}}
			}})
		var state weak.Pointer[sdkCallState]
		cfg := aws.Config{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
			BaseEndpoint: aws.String(srv.URL),
			HTTPClient:   buildableClient(srv),
			APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
				return s.Initialize.Add(middleware.InitializeMiddlewareFunc("state",
					func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
						v := &sdkCallState{}
						state = weak.Make(v)
						return next.HandleInitialize(context.WithValue(ctx, sdkCallStateKey{}, v), in)
					}), middleware.Before)
			}},
		}
		m := bedrock.New(cfg, bedrock.Options{})
		n := 0
		for ev, err := range m.Stream(context.Background(), userText("hi")) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Text == "" {
				continue
			}
			if n++; n == 2 {
				runtime.GC()
				runtime.GC()
				if state.Value() != nil {
					t.Errorf("TLS %v: the open stream still holds the SDK's context of its call", tls)
				}
			}
		}
		if n < 2 {
			t.Fatalf("TLS %v: %d text events, want several", tls, n)
		}
	}
}

// buildableClient is the SDK's own HTTP client, trusting srv's certificate if it has one.
func buildableClient(srv *bedrocktest.Server) *awshttp.BuildableClient {
	c := awshttp.NewBuildableClient()
	if srv.CertPEM == nil {
		return c
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CertPEM)
	return c.WithTransportOptions(func(tr *http.Transport) { tr.TLSClientConfig.RootCAs = roots })
}
