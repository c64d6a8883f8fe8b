package bedrock

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"genai"
)

// FuzzConverseTools checks that every chat request the decoder accepts maps to a
// Converse input without a panic, or is refused as a client error; and that each tool
// schema and call input is sent as the very JSON the client gave.
func FuzzConverseTools(f *testing.F) {
	f.Add([]byte(`{"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"messages":[{"role":"user","content":"a"}]}`))
	f.Add([]byte(`{"tools":[{"name":"f","input_schema":{"type":"object","properties":{"n":{"type":"integer","maximum":12345678901234567}}}}],"tool_choice":{"type":"tool","name":"f"},"messages":[{"role":"user","content":"a"}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":[1.5,true,null,"x",{"":1}]}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"{\"k\":1e400}"}]}]}`))
	f.Add([]byte(`{"tool_choice":{"type":"none"},"tools":[{"name":"g","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"{}"}],"is_error":true}]}]}`))
	m := &ChatModel{opts: Options{DefaultModel: "anthropic.claude-3-haiku-20240307-v1:0", DefaultMaxTokens: 100}}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, _, err := genai.ParseChatRequest(data)
		if err != nil {
			return
		}
		in, err := m.converse(req)
		if err != nil {
			if c := genai.ErrorCode(err); c != genai.EINVALID && c != genai.EMEDIATYPE && c != genai.ETOOLARGE {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if in.ToolConfig != nil {
			for i, tool := range in.ToolConfig.Tools {
				spec := tool.(*types.ToolMemberToolSpec).Value
				sent, err := spec.InputSchema.(*types.ToolInputSchemaMemberJson).Value.MarshalSmithyDocument()
				if err != nil {
					t.Fatalf("tool %d schema does not marshal: %v", i, err)
				}
				for _, d := range req.Tools {
					if d.Name == *spec.Name && !sameJSON(sent, d.InputSchema) {
						t.Fatalf("tool %s: sent %s, client gave %s", d.Name, sent, d.InputSchema)
					}
				}
			}
		}
		for i, msg := range in.Messages {
			for j, b := range msg.Content {
				if u, ok := b.(*types.ContentBlockMemberToolUse); ok {
					sent, err := u.Value.Input.MarshalSmithyDocument()
					if err != nil || !sameJSON(sent, req.Messages[i].Content[j].ToolUse.Input) {
						t.Fatalf("call input: sent %s (%v), client gave %s", sent, err, req.Messages[i].Content[j].ToolUse.Input)
					}
				}
			}
		}
	})
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
