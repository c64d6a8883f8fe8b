package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
)

// Defaults of ClientOptions.
const (
	DefaultStartTimeout = time.Minute // "npx -y" may download the server first
	DefaultCallTimeout  = time.Minute
	DefaultRestartMin   = time.Second
	DefaultRestartMax   = time.Minute
)

// InheritedEnv are the variables of our environment a stdio server gets beneath its
// own, the list the official TypeScript SDK passes on Unix: enough to find and run a
// program, and none of our keys.
var InheritedEnv = []string{"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"}

// ClientOptions configures a Client. The zero value uses the defaults.
type ClientOptions struct {
	// StartTimeout bounds starting a server: its process or connection, initialize and
	// the listing of its tools (default DefaultStartTimeout).
	StartTimeout time.Duration
	// CallTimeout bounds one tool call (default DefaultCallTimeout). A call that runs
	// out of time is an error result, and the server is then pinged: one that does not
	// answer within StartTimeout is restarted.
	CallTimeout time.Duration
	// RestartMin and RestartMax bound the wait before restarting a failed server: it
	// starts at RestartMin and doubles with each failure up to RestartMax.
	RestartMin, RestartMax time.Duration
	// Logger receives the servers' state changes and the stderr of stdio servers at
	// debug level (default slog.Default()).
	Logger *slog.Logger
	// HTTPClient reaches Streamable HTTP servers (default: http.DefaultTransport's).
	HTTPClient *http.Client
}

// Client connects to MCP servers and offers their tools as genai.ToolRunner values. Each
// server has a supervisor that connects in the background, lists the tools, lists them
// again on notifications/tools/list_changed, and restarts a server that failed to start,
// hung or died, with exponential backoff. A server that is down has no tools, so chat
// goes on without them. Create it with StartClient; Close stops every server.
type Client struct {
	opts    ClientOptions
	log     *slog.Logger
	servers []*supervisor
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	spawns  chan func() // run by spawner
	// closeOnce makes Close safe to call again.
	closeOnce sync.Once
}

// spawner runs the functions sent on c.spawns, which start stdio servers, on one OS
// thread until Close. The kernel's parent-death signal (Pdeathsig) fires when the
// thread that started a child ends, not the process, and Go ends a thread when a
// goroutine that locked it returns: children started on whatever thread a supervisor
// ran on could be killed while genai lives. This thread is locked and ends only after
// Close has stopped every server.
func (c *Client) spawner() {
	runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
	for f := range c.spawns {
		f()
	}
}

// spawn runs f on the spawner's thread.
func (c *Client) spawn(f func()) {
	done := make(chan struct{})
	c.spawns <- func() { defer close(done); f() }
	<-done
}

// StartClient starts a supervisor for each server and returns without waiting for any to
// connect.
func StartClient(servers []ServerConfig, opts ClientOptions) *Client {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.RestartMin <= 0 {
		opts.RestartMin = DefaultRestartMin
	}
	if opts.RestartMax < opts.RestartMin {
		opts.RestartMax = max(DefaultRestartMax, opts.RestartMin)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{opts: opts, log: opts.Logger, cancel: cancel, spawns: make(chan func())}
	go c.spawner()
	for _, cfg := range servers {
		s := &supervisor{cfg: cfg, opts: &c.opts, log: c.log.With("mcp_server", cfg.Name), spawn: c.spawn,
			state: genai.MCPStarting, relist: make(chan struct{}, 1), check: make(chan struct{}, 1)}
		c.servers = append(c.servers, s)
		c.wg.Go(func() { s.run(ctx) })
	}
	return c
}

// Groups returns the servers' tools by group name, "mcp:" + the server's name, for
// server.Options.ServerTools: each call returns the tools the server offers now, none
// while it is down.
func (c *Client) Groups() map[string]func() []genai.ToolRunner {
	out := make(map[string]func() []genai.ToolRunner, len(c.servers))
	for _, s := range c.servers {
		out[s.group()] = s.runners
	}
	return out
}

// Status returns the state of each server, in the order of StartClient's servers.
func (c *Client) Status() []genai.MCPServer {
	out := make([]genai.MCPServer, 0, len(c.servers))
	for _, s := range c.servers {
		out = append(out, s.status())
	}
	return out
}

// Close stops every server and waits until each has ended: a stdio server gets its
// stdin closed, then SIGTERM, then SIGKILL (the MCP spec's order), and whatever is left
// of its process group is killed.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		close(c.spawns)
	})
	return nil
}

// supervisor runs one server.
type supervisor struct {
	cfg  ServerConfig
	opts *ClientOptions
	log  *slog.Logger
	// relist asks for the tools to be listed again; check, for the server to be pinged.
	// Both hold at most one request, so a burst of them is one piece of work.
	relist, check chan struct{}
	// spawn runs a function on the thread that starts stdio servers (Client.spawner).
	spawn func(func())

	mu       sync.Mutex
	state    string
	err      string
	session  *sdk.ClientSession
	tools    []genai.ToolRunner
	restarts int
	retryAt  time.Time
}

// run keeps the server up until ctx ends.
func (s *supervisor) run(ctx context.Context) {
	wait := s.opts.RestartMin
	for {
		began := time.Now()
		err := s.serve(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > s.opts.RestartMax {
			wait = s.opts.RestartMin // it ran a good while: a new failure, not the same one
		}
		s.mu.Lock()
		s.state, s.err, s.session, s.tools = genai.MCPFailing, err.Error(), nil, nil // failure did it; a failure to connect too
		s.retryAt = time.Now().Add(wait)
		s.mu.Unlock()
		s.log.Warn("MCP server failed; its tools are withdrawn", "err", err, "restart_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, s.opts.RestartMax)
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
	}
}

// serve connects, lists the tools and serves until the session ends, ctx ends or the
// server stops answering; it returns why it stopped.
func (s *supervisor) serve(ctx context.Context) error {
	client := sdk.NewClient(&sdk.Implementation{Name: "genai", Version: "1"}, &sdk.ClientOptions{
		// No roots: genai has no files of the user's to offer.
		Capabilities: &sdk.ClientCapabilities{},
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			nudge(s.relist) // listing here would hold up the session's reader
		},
	})
	transport, proc := s.transport()
	if proc != nil {
		defer proc.stop()
	}
	start, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	session, err := client.Connect(start, transport, nil)
	if err != nil {
		return s.failure("did not start", start, err, proc)
	}
	defer session.Close()
	tools, err := s.list(start, session)
	if err != nil {
		return s.failure("did not list its tools", start, err, proc)
	}
	cancel()
	s.mu.Lock()
	s.state, s.err, s.session, s.tools, s.retryAt = genai.MCPConnected, "", session, tools, time.Time{}
	s.mu.Unlock()
	s.log.Info("MCP server connected", "tools", len(tools))

	ended := make(chan error, 1)
	go func() { ended <- session.Wait() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ended:
			return s.failure("stopped", ctx, err, proc)
		case <-s.relist:
			lctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
			tools, err := s.list(lctx, session)
			cancel()
			if err != nil {
				return s.failure("did not list its changed tools", lctx, err, proc)
			}
			s.mu.Lock()
			s.tools = tools
			s.mu.Unlock()
			s.log.Info("MCP server's tools changed", "tools", len(tools))
		case <-s.check:
			pctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
			err := session.Ping(pctx, nil)
			cancel()
			if err != nil {
				return s.failure("did not answer a ping after a call ran out of time", pctx, err, proc)
			}
		}
	}
}

// failure describes why the server stopped: the step, the time limit when that was
// it, and for a process, how it ended; the last of its stderr is logged.
func (s *supervisor) failure(step string, ctx context.Context, err error, proc *process) error {
	var why string
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		why = fmt.Sprintf("no answer within %s", s.opts.StartTimeout)
	case err == nil:
		why = "the connection closed"
	default:
		why = err.Error()
	}
	if proc != nil {
		if exit := proc.exit(); exit != "" && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = exit // how it ended says more than a broken pipe; after a timeout, we ended it
		}
		if tail := proc.stderrTail(); tail != "" {
			// Logged, not shown in Status: a server's stderr may hold what /api/config must not.
			s.log.Warn("MCP server's stderr ends", "stderr", tail)
		}
	}
	err = fmt.Errorf("%s: %s", step, why)
	// The tools go now, not once the session has closed, which can take seconds: no
	// call should go to a server that is going.
	s.mu.Lock()
	s.state, s.err, s.session, s.tools = genai.MCPFailing, err.Error(), nil, nil
	s.mu.Unlock()
	return err
}

// current returns the session and, when there is none, why.
func (s *supervisor) current() (*sdk.ClientSession, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		why := s.err
		if why == "" {
			why = "it is starting"
		}
		return nil, why
	}
	return s.session, ""
}

// group is the name a request turns the server's tools on by.
func (s *supervisor) group() string { return "mcp:" + s.cfg.Name }

func (s *supervisor) runners() []genai.ToolRunner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tools)
}

func (s *supervisor) status() genai.MCPServer {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := genai.MCPServer{Name: s.cfg.Name, Group: s.group(), Transport: s.cfg.Transport(), State: s.state,
		Error: s.err, Restarts: s.restarts, Tools: make([]genai.ToolInfo, 0, len(s.tools))}
	if !s.retryAt.IsZero() {
		at := s.retryAt
		st.RetryAt = &at
	}
	for _, t := range s.tools {
		spec := t.Tool()
		st.Tools = append(st.Tools, genai.ToolInfo{Name: spec.Name, Description: spec.Description})
	}
	return st
}

// nudge asks for work on ch unless it is already asked for.
func nudge(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// transport returns the transport to the server and, for stdio, its process.
func (s *supervisor) transport() (sdk.Transport, *process) {
	c := s.cfg
	if c.URL != "" {
		hc := *s.opts.HTTPClient
		if len(c.Headers) > 0 {
			base := hc.Transport
			if base == nil {
				base = http.DefaultTransport
			}
			hc.Transport = headerTransport{c.Headers, base}
		}
		return &sdk.StreamableClientTransport{Endpoint: c.URL, HTTPClient: &hc}, nil
	}
	cmd := exec.Command(c.Command, c.Args...)
	for _, k := range InheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range c.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, stderr: &tailWriter{log: s.log}}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = childAttributes()
	// Close waits this long after closing stdin before SIGTERM, and again before SIGKILL.
	return spawnTransport{&sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, s.spawn}, p
}

// spawnTransport connects (starts the process) on the spawner's thread.
type spawnTransport struct {
	sdk.Transport
	spawn func(func())
}

func (t spawnTransport) Connect(ctx context.Context) (conn sdk.Connection, err error) {
	t.spawn(func() { conn, err = t.Transport.Connect(ctx) })
	return conn, err
}

// headerTransport adds the configured headers to every request to a server.
type headerTransport struct {
	headers map[string]string
	base    http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		r.Header.Set(k, v)
	}
	return t.base.RoundTrip(r)
}

// process is a stdio server's process.
type process struct {
	cmd    *exec.Cmd
	stderr *tailWriter
}

// stop kills what is left of the process's group, once the session's Close has ended
// the process itself: the children a launcher such as npx started.
func (p *process) stop() {
	if p.cmd.Process != nil {
		killGroup(p.cmd.Process.Pid)
	}
}

// exit describes how the process ended, or "" while it runs.
func (p *process) exit() string {
	if p.cmd.Process == nil {
		return ""
	}
	if st := p.cmd.ProcessState; st != nil {
		return "the process ended: " + st.String()
	}
	return ""
}

func (p *process) stderrTail() string { return p.stderr.tail() }

// tailWriter keeps the last stderrTail bytes written to it, for a failure's reason, and
// logs each line at debug level.
type tailWriter struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	line []byte
}

const stderrTail = 512

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > stderrTail {
		w.buf = w.buf[len(w.buf)-stderrTail:]
	}
	w.line = append(w.line, p...)
	for {
		i := slices.Index(w.line, '\n')
		if i < 0 {
			break
		}
		w.log.Debug("MCP server stderr", "line", string(w.line[:i]))
		w.line = w.line[i+1:]
	}
	if len(w.line) > 4096 {
		w.line = w.line[:0]
	}
	return len(p), nil
}

func (w *tailWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(w.buf), "")), " ")
}
