/*
 * test_proxy_api_usage.c: the gateway's side parser.  SSE framing by the
 * WHATWG rules; usage, model, end and errors of each provider's
 * responses, streamed as the APIs send them and not, each fed at once,
 * split at every byte boundary, byte by byte and in small pieces, with
 * LF, CRLF and CR line ends, all with the same result; cut streams,
 * errors mid-stream, oversized lines and long strings; request bodies;
 * the include_usage rewrite; and the filter that takes the usage chunk
 * out, compared byte for byte at every split.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_api_usage.h"
#include "unit.h"

#define S(s)	(s), sizeof(s) - 1	/* a literal and its length */
#define SSE	"text/event-stream"
#define JSON	"application/json; charset=utf-8"

/* Anthropic Messages, streamed: pings, two text deltas, the end. */
#define ANTHROPIC_START							\
	"event: message_start\n"					\
	"data: {\"type\":\"message_start\",\"message\":{\"id\":"	\
	"\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\","	\
	"\"role\":\"assistant\",\"content\":[],\"model\":"		\
	"\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,"		\
	"\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,"	\
	"\"cache_creation_input_tokens\":1024,"				\
	"\"cache_read_input_tokens\":2048,\"output_tokens\":2,"		\
	"\"service_tier\":\"standard\"}}}\n"				\
	"\n"								\
	"event: content_block_start\n"					\
	"data: {\"type\":\"content_block_start\",\"index\":0,"		\
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"	\
	"\n"								\
	"event: ping\n"							\
	"data: {\"type\": \"ping\"}\n"					\
	"\n"								\
	"event: content_block_delta\n"					\
	"data: {\"type\":\"content_block_delta\",\"index\":0,"		\
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n"	\
	"\n"
#define ANTHROPIC_REST							\
	"event: ping\n"							\
	"data: {\"type\": \"ping\"}\n"					\
	"\n"								\
	"event: content_block_delta\n"					\
	"data: {\"type\":\"content_block_delta\",\"index\":0,"		\
	"\"delta\":{\"type\":\"text_delta\",\"text\":\", world: "	\
	"\\\"quoted\\\" {braces} [x] and \\\\ : data: \"}}\n"		\
	"\n"								\
	"event: content_block_stop\n"					\
	"data: {\"type\":\"content_block_stop\",\"index\":0}\n"		\
	"\n"								\
	"event: message_delta\n"					\
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"	\
	"\"end_turn\",\"stop_sequence\":null},\"usage\":"		\
	"{\"output_tokens\":15}}\n"					\
	"\n"								\
	"event: message_stop\n"						\
	"data: {\"type\":\"message_stop\"}\n"				\
	"\n"
static const char anthropic_stream[] = ANTHROPIC_START ANTHROPIC_REST;

/* The newer shape: message_delta restates the input figures. */
static const char anthropic_restate[] =
	"event: message_start\n"
	"data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\","
	"\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
	"\"model\":\"claude-opus-4-1-20250805\",\"stop_reason\":null,"
	"\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":0,"
	"\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n"
	"\n"
	"event: message_delta\n"
	"data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":"
	"{\"output_tokens\":7}}\n"
	"\n"
	"event: message_delta\n"
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	"\"tool_use\"},\"usage\":{\"input_tokens\":480,"
	"\"cache_creation_input_tokens\":1024,"
	"\"cache_read_input_tokens\":null,\"output_tokens\":90,"
	"\"server_tool_use\":{\"web_search_requests\":1}}}\n"
	"\n"
	"event: message_stop\n"
	"data: {\"type\":\"message_stop\"}\n"
	"\n";

static const char anthropic_error_stream[] =
	ANTHROPIC_START
	"event: error\n"
	"data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	"\"message\":\"Overloaded\"}}\n"
	"\n";

static const char anthropic_body[] =
	"{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\","
	"\"role\":\"assistant\",\"model\":\"claude-opus-4-1-20250805\","
	"\"content\":[{\"type\":\"text\",\"text\":\"Hi! {\\\"not\\\": 1}\"}],"
	"\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":"
	"{\"input_tokens\":12,\"cache_creation_input_tokens\":100,"
	"\"cache_read_input_tokens\":50,\"output_tokens\":6,"
	"\"service_tier\":\"standard\"}}";

static const char anthropic_error_body[] =
	"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	"\"message\":\"Overloaded\"},\"request_id\":"
	"\"req_011CSHoEeqs5C35K2UUqR7Fy\"}";

/* OpenAI Chat Completions, streamed with include_usage. */
#define CHAT_ID								\
	"{\"id\":\"chatcmpl-C1x2\",\"object\":\"chat.completion.chunk\","\
	"\"created\":1754000000,\"model\":\"o4-mini-2025-04-16\","	\
	"\"service_tier\":\"default\",\"system_fingerprint\":null,"
#define CHAT_HEAD							\
	"data: " CHAT_ID "\"choices\":[{\"index\":0,\"delta\":"	\
	"{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"	\
	"\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,"	\
	"\"obfuscation\":\"Xk2\"}\n"					\
	"\n"								\
	"data: " CHAT_ID "\"choices\":[{\"index\":0,\"delta\":"	\
	"{\"content\":\"Hello\"},\"logprobs\":null,"			\
	"\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"a\"}\n" \
	"\n"								\
	"data: " CHAT_ID "\"choices\":[{\"index\":0,\"delta\":{},"	\
	"\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null,"\
	"\"obfuscation\":\"Qz\"}\n"					\
	"\n"
#define CHAT_USAGE							\
	"data: " CHAT_ID "\"choices\":[],\"usage\":{\"prompt_tokens\":1117,"\
	"\"completion_tokens\":366,\"total_tokens\":1483,"		\
	"\"prompt_tokens_details\":{\"cached_tokens\":1024,"		\
	"\"audio_tokens\":0},\"completion_tokens_details\":"		\
	"{\"reasoning_tokens\":320,\"audio_tokens\":0,"			\
	"\"accepted_prediction_tokens\":0,"				\
	"\"rejected_prediction_tokens\":0}},\"obfuscation\":\"pW\"}\n"	\
	"\n"
#define CHAT_DONE	"data: [DONE]\n\n"
static const char chat_stream[] = CHAT_HEAD CHAT_USAGE CHAT_DONE;
static const char chat_filtered[] = CHAT_HEAD CHAT_DONE;

static const char chat_body[] =
	"{\n"
	"  \"id\": \"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\n"
	"  \"object\": \"chat.completion\",\n"
	"  \"created\": 1741569952,\n"
	"  \"model\": \"gpt-4.1-2025-04-14\",\n"
	"  \"choices\": [\n"
	"    {\n"
	"      \"index\": 0,\n"
	"      \"message\": {\n"
	"        \"role\": \"assistant\",\n"
	"        \"content\": \"Hello! How can I assist you today?\",\n"
	"        \"refusal\": null,\n"
	"        \"annotations\": []\n"
	"      },\n"
	"      \"logprobs\": null,\n"
	"      \"finish_reason\": \"stop\"\n"
	"    }\n"
	"  ],\n"
	"  \"usage\": {\n"
	"    \"prompt_tokens\": 19,\n"
	"    \"completion_tokens\": 10,\n"
	"    \"total_tokens\": 29,\n"
	"    \"prompt_tokens_details\": {\n"
	"      \"cached_tokens\": 0,\n"
	"      \"audio_tokens\": 0\n"
	"    },\n"
	"    \"completion_tokens_details\": {\n"
	"      \"reasoning_tokens\": 0,\n"
	"      \"audio_tokens\": 0,\n"
	"      \"accepted_prediction_tokens\": 0,\n"
	"      \"rejected_prediction_tokens\": 0\n"
	"    }\n"
	"  },\n"
	"  \"service_tier\": \"default\"\n"
	"}\n";

/* OpenAI Responses, streamed: no [DONE], response.completed ends. */
#define RESP_OBJ(status, output, usage)					\
	"{\"id\":\"resp_68a1\",\"object\":\"response\","		\
	"\"created_at\":1755000000,\"status\":\"" status "\","		\
	"\"background\":false,\"error\":null,"				\
	"\"incomplete_details\":null,\"instructions\":"			\
	"\"You are Codex, based on GPT-5.\",\"max_output_tokens\":null,"\
	"\"model\":\"gpt-5-codex\",\"output\":[" output "],"		\
	"\"parallel_tool_calls\":false,\"previous_response_id\":null,"	\
	"\"reasoning\":{\"effort\":\"medium\",\"summary\":\"auto\"},"	\
	"\"store\":false,\"temperature\":1.0,\"text\":{\"format\":"	\
	"{\"type\":\"text\"},\"verbosity\":\"medium\"},"		\
	"\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,"		\
	"\"truncation\":\"disabled\",\"usage\":" usage ","		\
	"\"user\":null,\"metadata\":{}}"
#define RESP_HEAD							\
	"event: response.created\n"					\
	"data: {\"type\":\"response.created\",\"sequence_number\":0,"	\
	"\"response\":" RESP_OBJ("in_progress", "", "null") "}\n"	\
	"\n"								\
	"event: response.in_progress\n"					\
	"data: {\"type\":\"response.in_progress\",\"sequence_number\":1,"\
	"\"response\":" RESP_OBJ("in_progress", "", "null") "}\n"	\
	"\n"								\
	"event: response.output_item.added\n"				\
	"data: {\"type\":\"response.output_item.added\","		\
	"\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":"	\
	"\"rs_68a1\",\"type\":\"reasoning\",\"summary\":[]}}\n"		\
	"\n"
static const char responses_stream[] =
	RESP_HEAD
	"event: response.output_item.done\n"
	"data: {\"type\":\"response.output_item.done\",\"sequence_number\":3,"
	"\"output_index\":0,\"item\":{\"id\":\"rs_68a1\",\"type\":"
	"\"reasoning\",\"summary\":[]}}\n"
	"\n"
	"event: response.output_item.added\n"
	"data: {\"type\":\"response.output_item.added\",\"sequence_number\":4,"
	"\"output_index\":1,\"item\":{\"id\":\"msg_68a1\",\"type\":"
	"\"message\",\"status\":\"in_progress\",\"content\":[],\"role\":"
	"\"assistant\"}}\n"
	"\n"
	"event: response.content_part.added\n"
	"data: {\"type\":\"response.content_part.added\",\"sequence_number\":5,"
	"\"item_id\":\"msg_68a1\",\"output_index\":1,\"content_index\":0,"
	"\"part\":{\"type\":\"output_text\",\"annotations\":[],"
	"\"logprobs\":[],\"text\":\"\"}}\n"
	"\n"
	"event: response.output_text.delta\n"
	"data: {\"type\":\"response.output_text.delta\",\"sequence_number\":6,"
	"\"item_id\":\"msg_68a1\",\"output_index\":1,\"content_index\":0,"
	"\"delta\":\"Done.\",\"logprobs\":[],\"obfuscation\":\"x1\"}\n"
	"\n"
	"event: response.output_text.done\n"
	"data: {\"type\":\"response.output_text.done\",\"sequence_number\":7,"
	"\"item_id\":\"msg_68a1\",\"output_index\":1,\"content_index\":0,"
	"\"text\":\"Done.\",\"logprobs\":[]}\n"
	"\n"
	"event: response.completed\n"
	"data: {\"type\":\"response.completed\",\"sequence_number\":8,"
	"\"response\":" RESP_OBJ("completed",
	"{\"id\":\"rs_68a1\",\"type\":\"reasoning\",\"summary\":[]},"
	"{\"id\":\"msg_68a1\",\"type\":\"message\",\"status\":\"completed\","
	"\"content\":[{\"type\":\"output_text\",\"annotations\":[],"
	"\"logprobs\":[],\"text\":\"Done.\"}],\"role\":\"assistant\"}",
	"{\"input_tokens\":1800,\"input_tokens_details\":"
	"{\"cached_tokens\":1536},\"output_tokens\":500,"
	"\"output_tokens_details\":{\"reasoning_tokens\":448},"
	"\"total_tokens\":2300}") "}\n"
	"\n";

static const char responses_failed[] =
	RESP_HEAD
	"event: response.failed\n"
	"data: {\"type\":\"response.failed\",\"sequence_number\":3,"
	"\"response\":{\"id\":\"resp_68a1\",\"object\":\"response\","
	"\"status\":\"failed\",\"error\":{\"code\":\"server_error\","
	"\"message\":\"The model failed to generate a response.\"},"
	"\"model\":\"gpt-5-codex\",\"usage\":{\"input_tokens\":10,"
	"\"input_tokens_details\":{\"cached_tokens\":0},"
	"\"output_tokens\":3,\"output_tokens_details\":"
	"{\"reasoning_tokens\":0},\"total_tokens\":13}}}\n"
	"\n";

static const char responses_incomplete[] =
	RESP_HEAD
	"event: response.incomplete\n"
	"data: {\"type\":\"response.incomplete\",\"sequence_number\":3,"
	"\"response\":{\"id\":\"resp_68a1\",\"object\":\"response\","
	"\"status\":\"incomplete\",\"error\":null,\"incomplete_details\":"
	"{\"reason\":\"max_output_tokens\"},\"model\":\"gpt-5-codex\","
	"\"usage\":{\"input_tokens\":40,\"input_tokens_details\":"
	"{\"cached_tokens\":0},\"output_tokens\":16,"
	"\"output_tokens_details\":{\"reasoning_tokens\":16},"
	"\"total_tokens\":56}}}\n"
	"\n";

static const char responses_error_event[] =
	RESP_HEAD
	"event: error\n"
	"data: {\"type\":\"error\",\"sequence_number\":3,\"code\":"
	"\"server_error\",\"message\":\"Something went wrong\","
	"\"param\":null}\n"
	"\n";

static const char responses_body[] =
	"{\n"
	"  \"id\": \"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\",\n"
	"  \"object\": \"response\",\n"
	"  \"created_at\": 1741476542,\n"
	"  \"status\": \"completed\",\n"
	"  \"error\": null,\n"
	"  \"incomplete_details\": null,\n"
	"  \"instructions\": null,\n"
	"  \"max_output_tokens\": null,\n"
	"  \"model\": \"gpt-4.1-2025-04-14\",\n"
	"  \"output\": [\n"
	"    {\n"
	"      \"type\": \"message\",\n"
	"      \"id\": \"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b\",\n"
	"      \"status\": \"completed\",\n"
	"      \"role\": \"assistant\",\n"
	"      \"content\": [\n"
	"        {\n"
	"          \"type\": \"output_text\",\n"
	"          \"text\": \"In a peaceful grove beneath a silver moon...\",\n"
	"          \"annotations\": []\n"
	"        }\n"
	"      ]\n"
	"    }\n"
	"  ],\n"
	"  \"usage\": {\n"
	"    \"input_tokens\": 36,\n"
	"    \"input_tokens_details\": {\n"
	"      \"cached_tokens\": 0\n"
	"    },\n"
	"    \"output_tokens\": 87,\n"
	"    \"output_tokens_details\": {\n"
	"      \"reasoning_tokens\": 0\n"
	"    },\n"
	"    \"total_tokens\": 123\n"
	"  },\n"
	"  \"user\": null,\n"
	"  \"metadata\": {}\n"
	"}\n";

/* Gemini with alt=sse; the API ends its lines in CRLF. */
static const char gemini_sse[] =
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
	"\"The sky\"}],\"role\": \"model\"},\"index\": 0}],"
	"\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9,"
	"\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": "
	"9}]},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": "
	"\"aBcDeF\"}\r\n"
	"\r\n"
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
	"\" is blue because of Rayleigh scattering.\"}],\"role\": "
	"\"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": "
	"9,\"totalTokenCount\": 9,\"promptTokensDetails\": [{\"modality\": "
	"\"TEXT\",\"tokenCount\": 9}]},\"modelVersion\": "
	"\"gemini-2.5-flash\",\"responseId\": \"aBcDeF\"}\r\n"
	"\r\n"
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
	"\"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": "
	"0}],\"usageMetadata\": {\"promptTokenCount\": 9,"
	"\"candidatesTokenCount\": 120,\"totalTokenCount\": 1201,"
	"\"cachedContentTokenCount\": 4,\"promptTokensDetails\": "
	"[{\"modality\": \"TEXT\",\"tokenCount\": 9}],"
	"\"thoughtsTokenCount\": 1072},\"modelVersion\": "
	"\"gemini-2.5-flash\",\"responseId\": \"aBcDeF\"}\r\n"
	"\r\n";

/* Gemini :streamGenerateContent without alt=sse: one JSON array. */
#define GEMINI_ARRAY_HEAD						\
	"[{\n"								\
	"  \"candidates\": [\n"						\
	"    {\n"							\
	"      \"content\": {\n"					\
	"        \"parts\": [\n"					\
	"          {\n"							\
	"            \"text\": \"The sky [is] {blue} \\\"\"\n"		\
	"          }\n"							\
	"        ],\n"							\
	"        \"role\": \"model\"\n"					\
	"      },\n"							\
	"      \"index\": 0\n"						\
	"    }\n"							\
	"  ],\n"							\
	"  \"usageMetadata\": {\n"					\
	"    \"promptTokenCount\": 9,\n"				\
	"    \"totalTokenCount\": 9\n"					\
	"  },\n"							\
	"  \"modelVersion\": \"gemini-2.5-pro\"\n"			\
	"}\n"								\
	",\r\n"
#define GEMINI_ARRAY_LAST						\
	"{\n"								\
	"  \"candidates\": [\n"						\
	"    {\n"							\
	"      \"content\": {\n"					\
	"        \"parts\": [\n"					\
	"          {\n"							\
	"            \"text\": \" because of Rayleigh scattering.\"\n"	\
	"          }\n"							\
	"        ],\n"							\
	"        \"role\": \"model\"\n"					\
	"      },\n"							\
	"      \"finishReason\": \"STOP\",\n"				\
	"      \"index\": 0\n"						\
	"    }\n"							\
	"  ],\n"							\
	"  \"usageMetadata\": {\n"					\
	"    \"promptTokenCount\": 9,\n"				\
	"    \"candidatesTokenCount\": 5,\n"				\
	"    \"totalTokenCount\": 40,\n"				\
	"    \"toolUsePromptTokenCount\": 10,\n"			\
	"    \"thoughtsTokenCount\": 16\n"				\
	"  },\n"							\
	"  \"modelVersion\": \"gemini-2.5-pro\"\n"			\
	"}\n"
static const char gemini_array[] = GEMINI_ARRAY_HEAD GEMINI_ARRAY_LAST "]";
static const char gemini_array_error[] =
	GEMINI_ARRAY_HEAD
	"{\n"
	"  \"error\": {\n"
	"    \"code\": 503,\n"
	"    \"message\": \"The model is overloaded. Please try later.\",\n"
	"    \"status\": \"UNAVAILABLE\"\n"
	"  }\n"
	"}\n"
	"]";

/* OpenRouter: processing comments, a usage chunk with cost. */
#define OR_ID								\
	"{\"id\":\"gen-1752000000-AbCdEfGh\",\"provider\":\"Anthropic\","\
	"\"model\":\"anthropic/claude-sonnet-4\",\"object\":"		\
	"\"chat.completion.chunk\",\"created\":1752000000,"
static const char openrouter_stream[] =
	": OPENROUTER PROCESSING\n"
	"\n"
	": OPENROUTER PROCESSING\n"
	"\n"
	"data: " OR_ID "\"choices\":[{\"index\":0,\"delta\":{\"role\":"
	"\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null,"
	"\"native_finish_reason\":null,\"logprobs\":null}]}\n"
	"\n"
	": OPENROUTER PROCESSING\n"
	"\n"
	"data: " OR_ID "\"choices\":[{\"index\":0,\"delta\":{\"role\":"
	"\"assistant\",\"content\":\"lo\"},\"finish_reason\":\"stop\","
	"\"native_finish_reason\":\"end_turn\",\"logprobs\":null}]}\n"
	"\n"
	"data: " OR_ID "\"choices\":[],\"usage\":{\"prompt_tokens\":1200,"
	"\"completion_tokens\":90,\"total_tokens\":1290,\"cost\":0.00495,"
	"\"is_byok\":false,\"prompt_tokens_details\":{\"cached_tokens\":1000,"
	"\"cache_write_tokens\":150},\"cost_details\":"
	"{\"upstream_inference_cost\":null},\"completion_tokens_details\":"
	"{\"reasoning_tokens\":0}}}\n"
	"\n"
	"data: [DONE]\n"
	"\n";

static const char openrouter_error[] =
	": OPENROUTER PROCESSING\n"
	"\n"
	"data: {\"id\":\"cmpl-abc123\",\"object\":\"chat.completion.chunk\","
	"\"created\":1234567890,\"model\":\"openai/gpt-4o\",\"provider\":"
	"\"OpenAI\",\"error\":{\"code\":\"server_error\",\"message\":"
	"\"Provider disconnected unexpectedly\"},\"choices\":[{\"index\":0,"
	"\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n"
	"\n";

static const char openrouter_body[] =
	"{\"id\":\"gen-1752000001-XyZ\",\"provider\":\"Google\",\"model\":"
	"\"google/gemini-2.5-flash\",\"object\":\"chat.completion\","
	"\"created\":1752000001,\"choices\":[{\"logprobs\":null,"
	"\"finish_reason\":\"stop\",\"native_finish_reason\":\"STOP\","
	"\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"4\","
	"\"refusal\":null,\"reasoning\":null}}],\"usage\":{\"prompt_tokens\":"
	"14,\"completion_tokens\":1,\"total_tokens\":15,\"cost\":2.95e-06,"
	"\"prompt_tokens_details\":{\"cached_tokens\":0},"
	"\"completion_tokens_details\":{\"reasoning_tokens\":0}}}";

/* Growing output of the filter or the framer. */
struct out {
	char	*o_buf;
	size_t	 o_len;
	size_t	 o_size;
	size_t	 o_calls;
};

static int	result_same(const struct proxy_api_usage_result *,
		    const struct proxy_api_usage_result *);
static void	usage_run(enum proxy_api_usage_kind, const char *,
		    const char *, size_t, size_t, size_t, int,
		    struct proxy_api_usage_result *);
static int	usage_splits(enum proxy_api_usage_kind, const char *,
		    const char *, size_t, int, struct proxy_api_usage_result *);
static int	usage_eols(enum proxy_api_usage_kind, const char *, size_t,
		    int, struct proxy_api_usage_result *);
static char	*eol_convert(const char *, size_t, const char *, size_t *);
static void	out_add(struct out *, const char *, size_t);
static void	out_cb(const char *, size_t, void *);
static void	sse_cb(const char *, const char *, size_t, void *);
static void	sse_run(int, const char *, size_t, size_t, int, struct out *);
static void	filter_run(const char *, size_t, size_t, size_t, size_t,
		    struct out *, int *, int *, uint64_t *);
static int	filter_splits(const char *, size_t, size_t, const char *,
		    size_t, int, int);

static int
result_same(const struct proxy_api_usage_result *a,
    const struct proxy_api_usage_result *b)
{
	return (a->ur_input == b->ur_input &&
	    a->ur_cached_input == b->ur_cached_input &&
	    a->ur_cache_creation == b->ur_cache_creation &&
	    a->ur_output == b->ur_output &&
	    a->ur_reasoning == b->ur_reasoning &&
	    a->ur_cost == b->ur_cost &&
	    strcmp(a->ur_model, b->ur_model) == 0 &&
	    a->ur_events == b->ur_events &&
	    a->ur_usage_seen == b->ur_usage_seen &&
	    a->ur_complete == b->ur_complete &&
	    a->ur_error_seen == b->ur_error_seen &&
	    a->ur_oversized == b->ur_oversized &&
	    a->ur_nomem == b->ur_nomem &&
	    a->ur_cost_seen == b->ur_cost_seen);
}

/*
 * Read text: at once (split and step 0), in two pieces at split, or in
 * pieces of step bytes.
 */
static void
usage_run(enum proxy_api_usage_kind kind, const char *ctype,
    const char *text, size_t len, size_t split, size_t step, int clean,
    struct proxy_api_usage_result *r)
{
	struct proxy_api_usage	 u;
	size_t			 off, n;

	proxy_api_usage_init(&u, kind, 1, ctype);
	if (step > 0) {
		for (off = 0; off < len; off += n) {
			n = len - off < step ? len - off : step;
			proxy_api_usage_feed(&u, text + off, n);
		}
	} else if (split > 0) {
		proxy_api_usage_feed(&u, text, split);
		proxy_api_usage_feed(&u, text + split, len - split);
	} else
		proxy_api_usage_feed(&u, text, len);
	proxy_api_usage_end(&u, clean);
	*r = *proxy_api_usage_result(&u);
	proxy_api_usage_clear(&u);
}

/* At once, then split at every boundary, byte by byte, by 7: all same. */
static int
usage_splits(enum proxy_api_usage_kind kind, const char *ctype,
    const char *text, size_t len, int clean,
    struct proxy_api_usage_result *r)
{
	struct proxy_api_usage_result	 r2;
	size_t				 k;

	usage_run(kind, ctype, text, len, 0, 0, clean, r);
	for (k = 1; k < len; k++) {
		usage_run(kind, ctype, text, len, k, 0, clean, &r2);
		if (!result_same(r, &r2)) {
			unit_fail(__FILE__, __LINE__, "split at %zu differs", k);
			return (-1);
		}
	}
	for (k = 1; k <= 7; k += 6) {
		usage_run(kind, ctype, text, len, 0, k, clean, &r2);
		if (!result_same(r, &r2)) {
			unit_fail(__FILE__, __LINE__, "pieces of %zu differ", k);
			return (-1);
		}
	}
	return (0);
}

/* An SSE text with LF, CRLF and CR line ends: all split, all same. */
static int
usage_eols(enum proxy_api_usage_kind kind, const char *text, size_t len,
    int clean, struct proxy_api_usage_result *r)
{
	struct proxy_api_usage_result	 r2;
	static const char		*eols[] = { "\r\n", "\r" };
	char				*t;
	size_t				 i, n;
	int				 ok;

	if (usage_splits(kind, SSE, text, len, clean, r) == -1)
		return (-1);
	for (i = 0; i < 2; i++) {
		if ((t = eol_convert(text, len, eols[i], &n)) == NULL)
			return (-1);
		ok = usage_splits(kind, SSE, t, n, clean, &r2);
		free(t);
		if (ok == -1 || !result_same(r, &r2)) {
			unit_fail(__FILE__, __LINE__, "line end %zu differs", i);
			return (-1);
		}
	}
	return (0);
}

/* Every line end (LF, CRLF or CR) as eol; the caller frees. */
static char *
eol_convert(const char *text, size_t len, const char *eol, size_t *outlen)
{
	size_t	 i, n = 0, el = strlen(eol);
	char	*t;

	if ((t = malloc(len * 2 + 1)) == NULL)
		return (NULL);
	for (i = 0; i < len; i++) {
		if (text[i] == '\r' || text[i] == '\n') {
			if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
			memcpy(t + n, eol, el);
			n += el;
		} else
			t[n++] = text[i];
	}
	t[n] = '\0';
	*outlen = n;
	return (t);
}

static void
out_add(struct out *o, const char *buf, size_t len)
{
	char	*p;

	if (o->o_len + len + 1 > o->o_size) {
		o->o_size = (o->o_len + len + 1) * 2;
		if ((p = realloc(o->o_buf, o->o_size)) == NULL)
			abort();
		o->o_buf = p;
	}
	memcpy(o->o_buf + o->o_len, buf, len);
	o->o_len += len;
	o->o_buf[o->o_len] = '\0';
}

static void
out_cb(const char *buf, size_t len, void *arg)
{
	struct out	*o = arg;

	if (len == 0)
		abort();	/* the filter never sends nothing */
	out_add(o, buf, len);
	o->o_calls++;
}

/* Each event as "type|data" and a line feed. */
static void
sse_cb(const char *type, const char *data, size_t len, void *arg)
{
	struct out	*o = arg;

	out_add(o, type, strlen(type));
	out_add(o, "|", 1);
	out_add(o, data, len);
	out_add(o, "\n", 1);
}

/* Frame text in pieces of step (0: at once) into o. */
static void
sse_run(int flags, const char *text, size_t len, size_t step, int clean,
    struct out *o)
{
	struct proxy_sse	 ss;
	size_t			 off, n;

	proxy_sse_init(&ss, flags);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		proxy_sse_feed(&ss, text + off, n, sse_cb, o);
	}
	proxy_sse_end(&ss, clean, sse_cb, o);
	proxy_sse_clear(&ss);
}

/* Filter text: at once, at split, or in pieces of step. */
static void
filter_run(const char *text, size_t len, size_t split, size_t step,
    size_t hold_max, struct out *o, int *removed, int *gaveup,
    uint64_t *region)
{
	struct proxy_sse_filter	 sf;
	size_t			 off, n;

	proxy_sse_filter_init(&sf);
	if (hold_max > 0)
		sf.sf_hold_max = hold_max;
	if (step > 0) {
		for (off = 0; off < len; off += n) {
			n = len - off < step ? len - off : step;
			proxy_sse_filter_feed(&sf, text + off, n, out_cb, o);
		}
	} else if (split > 0) {
		proxy_sse_filter_feed(&sf, text, split, out_cb, o);
		proxy_sse_filter_feed(&sf, text + split, len - split, out_cb,
		    o);
	} else
		proxy_sse_filter_feed(&sf, text, len, out_cb, o);
	proxy_sse_filter_end(&sf, out_cb, o);
	*removed = sf.sf_removed;
	*gaveup = sf.sf_gaveup;
	region[0] = sf.sf_removed_off;
	region[1] = sf.sf_removed_len;
	proxy_sse_filter_clear(&sf);
}

/*
 * Filter text every way; the output must be want each time, and the
 * input less the region the filter says it removed.
 */
static int
filter_splits(const char *text, size_t len, size_t hold_max,
    const char *want, size_t wantlen, int removed, int gaveup)
{
	struct out	 o;
	uint64_t	 rg[2];
	size_t		 k, split, step;
	int		 rm, gu;

	for (k = 0; k <= len + 2; k++) {
		split = k < len ? k : 0;
		step = k == len ? 1 : k == len + 1 ? 3 : 0;
		if (k == len + 2)
			step = 64;
		memset(&o, 0, sizeof(o));
		filter_run(text, len, split, step, hold_max, &o, &rm, &gu, rg);
		if (!rm)
			rg[0] = rg[1] = 0;
		if (o.o_len != wantlen || (wantlen > 0 &&
		    memcmp(o.o_buf, want, wantlen) != 0) || rm != removed ||
		    gu != gaveup || rg[0] + rg[1] > len ||
		    wantlen != len - rg[1] ||
		    memcmp(want, text, rg[0]) != 0 ||
		    memcmp(want + rg[0], text + rg[0] + rg[1],
		    wantlen - rg[0]) != 0) {
			unit_fail(__FILE__, __LINE__, "split %zu step %zu: "
			    "%zu bytes, removed %d, gave up %d", split, step,
			    o.o_len, rm, gu);
			free(o.o_buf);
			return (-1);
		}
		free(o.o_buf);
	}
	return (0);
}

/*
 * The tests.
 */

static int
test_sse_framing(void)
{
	static const char	 t[] =
	    ": a comment\n"
	    "data: a\n"
	    "data:b\n"
	    "data:  c\n"
	    "\n"
	    "data\n"
	    "\n"
	    "event: lonely\n"
	    "\n"
	    "id: 7\n"
	    "retry: 1000\n"
	    "foo: bar\n"
	    "dataa: no\n"
	    "data: y\n"
	    "\n"
	    "event: e1\n"
	    "event: e2\n"
	    "data: z\n"
	    "\n"
	    "data: typeless again\n"
	    "\n"
	    "\n"
	    "\n"
	    "event:e3\n"
	    "data:{ \"k\" : [1, 2] }\n"
	    ":data: not\n"
	    "\n";
	static const char	 want[] =
	    "|a\nb\n c\n"
	    "|\n"
	    "|y\n"
	    "e2|z\n"
	    "|typeless again\n"
	    "e3|{ \"k\" : [1, 2] }\n";
	struct out		 o, o2;
	char			*t2 = NULL;
	size_t			 n, k;
	int			 ok = -1;

	memset(&o, 0, sizeof(o));
	memset(&o2, 0, sizeof(o2));
	sse_run(0, S(t), 0, 1, &o);
	CHECK_STR(o.o_buf, want);
	for (k = 1; k <= sizeof(t); k++) {
		free(o2.o_buf);
		memset(&o2, 0, sizeof(o2));
		sse_run(0, S(t), k, 1, &o2);
		CHECK_STR(o2.o_buf, want);
	}
	/* CR alone and CRLF end lines just as LF does. */
	CHECK((t2 = eol_convert(S(t), "\r", &n)) != NULL);
	free(o2.o_buf);
	memset(&o2, 0, sizeof(o2));
	sse_run(0, t2, n, 1, 1, &o2);
	CHECK_STR(o2.o_buf, want);
	free(t2);
	CHECK((t2 = eol_convert(S(t), "\r\n", &n)) != NULL);
	for (k = 1; k <= 2; k++) {
		free(o2.o_buf);
		memset(&o2, 0, sizeof(o2));
		sse_run(0, t2, n, k, 1, &o2);
		CHECK_STR(o2.o_buf, want);
	}
	/* As JSON text: blanks outside strings go. */
	free(o2.o_buf);
	memset(&o2, 0, sizeof(o2));
	sse_run(PROXY_SSE_JSON, S("data: { \"k k\" : [1, 2] }\n\n"), 0, 1,
	    &o2);
	CHECK_STR(o2.o_buf, "|{\"k k\":[1,2]}\n");
	ok = 0;
 end:
	free(t2);
	free(o.o_buf);
	free(o2.o_buf);
	return (ok);
}

static int
test_sse_edges(void)
{
	struct out	 o;
	char		*big = NULL;
	size_t		 i, n;
	int		 ok = -1;

	/* A leading BOM is skipped; one later is part of a name. */
	memset(&o, 0, sizeof(o));
	sse_run(0, S("\xef\xbb\xbf" "data: b\n\n\xef\xbb\xbf" "data: c\n\n"),
	    1, 1, &o);
	CHECK_STR(o.o_buf, "|b\n");
	free(o.o_buf);
	/* A last event without its blank line: dispatched on a clean end. */
	memset(&o, 0, sizeof(o));
	sse_run(0, S("data: 1\n\ndata: tail"), 0, 1, &o);
	CHECK_STR(o.o_buf, "|1\n|tail\n");
	free(o.o_buf);
	memset(&o, 0, sizeof(o));
	sse_run(0, S("data: 1\n\ndata: tail\n"), 1, 0, &o);
	CHECK_STR(o.o_buf, "|1\n");
	free(o.o_buf);
	/* A CRLF split after its CR is one line end, not a blank line. */
	memset(&o, 0, sizeof(o));
	sse_run(0, S("data: x\r\ndata: y\r\n\r\n"), 1, 1, &o);
	CHECK_STR(o.o_buf, "|x\ny\n");
	free(o.o_buf);
	/* LF CR is two line ends: a blank line. */
	memset(&o, 0, sizeof(o));
	sse_run(0, S("data: x\n\rdata: y\n\n"), 1, 1, &o);
	CHECK_STR(o.o_buf, "|x\n|y\n");
	free(o.o_buf);
	/* A long string is emptied, its escapes still followed. */
	n = 8 + 4 * PROXY_API_USAGE_STRING_KEEP;
	CHECK((big = malloc(n + 64)) != NULL);
	memcpy(big, "data: {\"t\":\"", 12);
	for (i = 12; i < n; i += 2)
		memcpy(big + i, "\\\"", 2);
	memcpy(big + i, "\",\"u\":\"ok\"}\n\n", 14);
	memset(&o, 0, sizeof(o));
	sse_run(PROXY_SSE_JSON, big, i + 14, 5, 1, &o);
	CHECK_STR(o.o_buf, "|{\"t\":\"\",\"u\":\"ok\"}\n");
	free(o.o_buf);
	o.o_buf = NULL;
	ok = 0;
 end:
	free(big);
	free(o.o_buf);
	return (ok);
}

static int
test_anthropic_stream(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_eols(PROXY_API_USAGE_ANTHROPIC_MESSAGES,
	    S(anthropic_stream), 0, &r), 0);
	CHECK_INT(r.ur_input, 472 + 1024 + 2048);
	CHECK_INT(r.ur_cached_input, 2048);
	CHECK_INT(r.ur_cache_creation, 1024);
	CHECK_INT(r.ur_output, 15);
	CHECK_INT(r.ur_reasoning, 0);
	CHECK_STR(r.ur_model, "claude-sonnet-4-5-20250929");
	CHECK_INT(r.ur_events, 9);
	CHECK_INT(r.ur_usage_seen, 1);
	CHECK_INT(r.ur_complete, 1);	/* message_stop, even if reset after */
	CHECK_INT(r.ur_error_seen, 0);
	CHECK_INT(r.ur_oversized, 0);
	CHECK_INT(r.ur_cost_seen, 0);
	ok = 0;
 end:
	return (ok);
}

static int
test_anthropic_cumulative(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	/* message_delta replaces, never adds; null leaves a figure alone. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_ANTHROPIC_MESSAGES,
	    S(anthropic_restate), 1, &r), 0);
	CHECK_INT(r.ur_output, 90);
	CHECK_INT(r.ur_input, 480 + 1024);
	CHECK_INT(r.ur_cached_input, 0);
	CHECK_INT(r.ur_cache_creation, 1024);
	CHECK_STR(r.ur_model, "claude-opus-4-1-20250805");
	CHECK_INT(r.ur_complete, 1);
	ok = 0;
 end:
	return (ok);
}

static int
test_anthropic_cut(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	/* Cut after a delta: the input known, one output token, no end. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_ANTHROPIC_MESSAGES,
	    S(ANTHROPIC_START "event: ping\ndata: {\"ty"), 0, &r), 0);
	CHECK_INT(r.ur_input, 3544);
	CHECK_INT(r.ur_output, 2);
	CHECK_INT(r.ur_usage_seen, 1);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_events, 4);
	/* Cut inside message_start: nothing at all. */
	usage_run(PROXY_API_USAGE_ANTHROPIC_MESSAGES, SSE, anthropic_stream,
	    200, 0, 0, 0, &r);
	CHECK_INT(r.ur_usage_seen, 0);
	CHECK_INT(r.ur_input, 0);
	CHECK_STR(r.ur_model, "");
	/* Error mid-stream. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_ANTHROPIC_MESSAGES,
	    S(anthropic_error_stream), 1, &r), 0);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_input, 3544);
	ok = 0;
 end:
	return (ok);
}

static int
test_anthropic_body(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_splits(PROXY_API_USAGE_ANTHROPIC_MESSAGES, JSON,
	    S(anthropic_body), 1, &r), 0);
	CHECK_INT(r.ur_input, 162);
	CHECK_INT(r.ur_cached_input, 50);
	CHECK_INT(r.ur_cache_creation, 100);
	CHECK_INT(r.ur_output, 6);
	CHECK_STR(r.ur_model, "claude-opus-4-1-20250805");
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_events, 1);
	CHECK_INT(usage_splits(PROXY_API_USAGE_ANTHROPIC_MESSAGES, JSON,
	    S(anthropic_error_body), 1, &r), 0);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_usage_seen, 0);
	/* A body cut short is not complete, and says nothing. */
	usage_run(PROXY_API_USAGE_ANTHROPIC_MESSAGES, JSON, anthropic_body,
	    sizeof(anthropic_body) - 2, 0, 0, 0, &r);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_usage_seen, 0);
	ok = 0;
 end:
	return (ok);
}

static int
test_chat_stream(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_CHAT, S(chat_stream), 1,
	    &r), 0);
	CHECK_INT(r.ur_input, 1117);
	CHECK_INT(r.ur_cached_input, 1024);
	CHECK_INT(r.ur_cache_creation, 0);
	CHECK_INT(r.ur_output, 366);
	CHECK_INT(r.ur_reasoning, 320);
	CHECK_STR(r.ur_model, "o4-mini-2025-04-16");
	CHECK_INT(r.ur_events, 5);
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_usage_seen, 1);
	/* Without the usage chunk (include_usage not set): none, complete. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_CHAT,
	    S(CHAT_HEAD CHAT_DONE), 1, &r), 0);
	CHECK_INT(r.ur_usage_seen, 0);
	CHECK_INT(r.ur_complete, 1);
	/* Cut before [DONE]: the usage, not complete. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_CHAT,
	    S(CHAT_HEAD CHAT_USAGE "data: [DO"), 0, &r), 0);
	CHECK_INT(r.ur_usage_seen, 1);
	CHECK_INT(r.ur_output, 366);
	CHECK_INT(r.ur_complete, 0);
	/* No Content-Type: streamed says SSE. */
	usage_run(PROXY_API_USAGE_OPENAI_CHAT, NULL, S(chat_stream), 0, 0, 1,
	    &r);
	CHECK_INT(r.ur_output, 366);
	ok = 0;
 end:
	return (ok);
}

static int
test_chat_body(void)
{
	struct proxy_api_usage_result	 r;
	struct proxy_api_usage		 u;
	int				 ok = -1;

	CHECK_INT(usage_splits(PROXY_API_USAGE_OPENAI_CHAT, "application/json",
	    S(chat_body), 1, &r), 0);
	CHECK_INT(r.ur_input, 19);
	CHECK_INT(r.ur_output, 10);
	CHECK_STR(r.ur_model, "gpt-4.1-2025-04-14");
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_error_seen, 0);
	/* Not streamed and no Content-Type: JSON. */
	proxy_api_usage_init(&u, PROXY_API_USAGE_OPENAI_CHAT, 0, NULL);
	CHECK_INT(proxy_api_usage_feed(&u, S(chat_body)), 0);
	proxy_api_usage_end(&u, 1);
	CHECK_INT(proxy_api_usage_result(&u)->ur_output, 10);
	proxy_api_usage_clear(&u);
	/* An error body. */
	CHECK_INT(usage_splits(PROXY_API_USAGE_OPENAI_CHAT, JSON,
	    S("{\"error\":{\"message\":\"Rate limit reached\",\"type\":"
	    "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}"),
	    1, &r), 0);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_usage_seen, 0);
	/* A body that closes but does not read is not complete. */
	CHECK_INT(usage_splits(PROXY_API_USAGE_OPENAI_CHAT, JSON,
	    S("{\"usage\":{\"prompt_tokens\":1}]"), 1, &r), 0);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_usage_seen, 0);
	/* HTML from something in between: ignored, never complete. */
	usage_run(PROXY_API_USAGE_OPENAI_CHAT, "text/html",
	    S("<html>{\"usage\":{\"prompt_tokens\":1}}</html>"), 0, 0, 1, &r);
	CHECK_INT(r.ur_usage_seen, 0);
	CHECK_INT(r.ur_complete, 0);
	ok = 0;
 end:
	return (ok);
}

static int
test_responses(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_RESPONSES,
	    S(responses_stream), 0, &r), 0);
	CHECK_INT(r.ur_input, 1800);
	CHECK_INT(r.ur_cached_input, 1536);
	CHECK_INT(r.ur_output, 500);
	CHECK_INT(r.ur_reasoning, 448);
	CHECK_STR(r.ur_model, "gpt-5-codex");
	CHECK_INT(r.ur_events, 9);
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_error_seen, 0);
	/* Cut before the end: the model, no usage. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_RESPONSES, S(RESP_HEAD),
	    1, &r), 0);
	CHECK_STR(r.ur_model, "gpt-5-codex");
	CHECK_INT(r.ur_usage_seen, 0);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_RESPONSES,
	    S(responses_failed), 1, &r), 0);
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_input, 10);
	CHECK_INT(r.ur_output, 3);
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_RESPONSES,
	    S(responses_incomplete), 1, &r), 0);
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_error_seen, 0);
	CHECK_INT(r.ur_output, 16);
	CHECK_INT(r.ur_reasoning, 16);
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENAI_RESPONSES,
	    S(responses_error_event), 1, &r), 0);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(usage_splits(PROXY_API_USAGE_OPENAI_RESPONSES, JSON,
	    S(responses_body), 1, &r), 0);
	CHECK_INT(r.ur_input, 36);
	CHECK_INT(r.ur_output, 87);
	CHECK_STR(r.ur_model, "gpt-4.1-2025-04-14");
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(r.ur_error_seen, 0);
	ok = 0;
 end:
	return (ok);
}

static int
test_gemini_sse(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_eols(PROXY_API_USAGE_GEMINI, S(gemini_sse), 1, &r),
	    0);
	CHECK_INT(r.ur_input, 9);
	CHECK_INT(r.ur_cached_input, 4);
	CHECK_INT(r.ur_output, 120 + 1072);
	CHECK_INT(r.ur_reasoning, 1072);
	CHECK_STR(r.ur_model, "gemini-2.5-flash");
	CHECK_INT(r.ur_events, 3);
	CHECK_INT(r.ur_complete, 1);
	/* The stream ends with the connection: a reset is not complete. */
	CHECK_INT(usage_eols(PROXY_API_USAGE_GEMINI, S(gemini_sse), 0, &r),
	    0);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_output, 1192);
	/* Nor is a clean end before a finishReason. */
	usage_run(PROXY_API_USAGE_GEMINI, SSE, gemini_sse, 700, 0, 0, 1, &r);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_events, 3);	/* the cut one too: unreadable */
	CHECK_INT(r.ur_input, 9);
	CHECK_INT(r.ur_output, 0);
	ok = 0;
 end:
	return (ok);
}

static int
test_gemini_json(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_splits(PROXY_API_USAGE_GEMINI, "application/json",
	    S(gemini_array), 0, &r), 0);
	CHECK_INT(r.ur_input, 9 + 10);
	CHECK_INT(r.ur_output, 5 + 16);
	CHECK_INT(r.ur_reasoning, 16);
	CHECK_INT(r.ur_cached_input, 0);
	CHECK_STR(r.ur_model, "gemini-2.5-pro");
	CHECK_INT(r.ur_events, 2);
	CHECK_INT(r.ur_complete, 1);	/* the array closed */
	/* Cut before the array closes: the first chunk's. */
	CHECK_INT(usage_splits(PROXY_API_USAGE_GEMINI, "application/json",
	    S(GEMINI_ARRAY_HEAD GEMINI_ARRAY_LAST), 1, &r), 0);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_output, 21);
	CHECK_INT(usage_splits(PROXY_API_USAGE_GEMINI, "application/json",
	    S(GEMINI_ARRAY_HEAD "{\n \"candi"), 1, &r), 0);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_output, 0);
	CHECK_INT(r.ur_input, 9);
	CHECK_INT(usage_splits(PROXY_API_USAGE_GEMINI, "application/json",
	    S(gemini_array_error), 1, &r), 0);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_complete, 1);
	/* generateContent: one object; a bare string in an array skipped. */
	CHECK_INT(usage_splits(PROXY_API_USAGE_GEMINI, "application/json",
	    S("[\"{[\", 7, [{}], " "{\"usageMetadata\":{\"promptTokenCount\":"
	    "3,\"candidatesTokenCount\":4}}]"), 1, &r), 0);
	CHECK_INT(r.ur_events, 1);
	CHECK_INT(r.ur_input, 3);
	CHECK_INT(r.ur_output, 4);
	ok = 0;
 end:
	return (ok);
}

/* A Gemini image answer: megabytes of base64 cost nothing to read. */
static int
test_gemini_image(void)
{
	static const char	 head[] = "{\"candidates\": [{\"content\": "
	    "{\"parts\": [{\"inlineData\": {\"mimeType\": \"image/png\", "
	    "\"data\": \"";
	static const char	 tail[] = "\"}}],\"role\": \"model\"},"
	    "\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": "
	    "{\"promptTokenCount\": 12,\"candidatesTokenCount\": 1290,"
	    "\"totalTokenCount\": 1302},\"modelVersion\": "
	    "\"gemini-2.5-flash-image\"}";
	struct proxy_api_usage_result	 r;
	struct proxy_api_usage		 u;
	size_t				 n = 3 << 20, len;
	char				*b = NULL;
	int				 ok = -1;

	CHECK((b = malloc(6 + sizeof(head) + n + sizeof(tail) + 4)) != NULL);
	memcpy(b, "data: ", 6);
	memcpy(b + 6, head, sizeof(head) - 1);
	len = 6 + sizeof(head) - 1;
	memset(b + len, 'A', n);
	len += n;
	memcpy(b + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	memcpy(b + len, "\r\n\r\n", 4);
	len += 4;
	usage_run(PROXY_API_USAGE_GEMINI, SSE, b, len, 0, 4096, 1, &r);
	CHECK_INT(r.ur_oversized, 0);
	CHECK_INT(r.ur_output, 1290);
	CHECK_INT(r.ur_complete, 1);
	CHECK_STR(r.ur_model, "gemini-2.5-flash-image");
	/* The same, not streamed, as one JSON body. */
	usage_run(PROXY_API_USAGE_GEMINI, JSON, b + 6, len - 10, 0, 65536, 1,
	    &r);
	CHECK_INT(r.ur_oversized, 0);
	CHECK_INT(r.ur_input, 12);
	CHECK_INT(r.ur_complete, 1);
	/* What is kept stays small. */
	proxy_api_usage_init(&u, PROXY_API_USAGE_GEMINI, 0, JSON);
	CHECK_INT(proxy_api_usage_feed(&u, b + 6, len - 200), 0);
	CHECK(u.pu_json.sd_size <= 4096);
	proxy_api_usage_clear(&u);
	ok = 0;
 end:
	free(b);
	return (ok);
}

static int
test_openrouter(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENROUTER_CHAT,
	    S(openrouter_stream), 0, &r), 0);
	CHECK_INT(r.ur_input, 1200);
	CHECK_INT(r.ur_cached_input, 1000);
	CHECK_INT(r.ur_cache_creation, 150);
	CHECK_INT(r.ur_output, 90);
	CHECK_INT(r.ur_cost_seen, 1);
	CHECK(r.ur_cost > 0.00494 && r.ur_cost < 0.00496);
	CHECK_STR(r.ur_model, "anthropic/claude-sonnet-4");
	CHECK_INT(r.ur_events, 4);	/* comments are not events */
	CHECK_INT(r.ur_complete, 1);
	CHECK_INT(usage_eols(PROXY_API_USAGE_OPENROUTER_CHAT,
	    S(openrouter_error), 1, &r), 0);
	CHECK_INT(r.ur_error_seen, 1);
	CHECK_INT(r.ur_complete, 0);
	CHECK_INT(r.ur_usage_seen, 0);
	CHECK_STR(r.ur_model, "openai/gpt-4o");
	CHECK_INT(usage_splits(PROXY_API_USAGE_OPENROUTER_CHAT, JSON,
	    S(openrouter_body), 1, &r), 0);
	CHECK_INT(r.ur_input, 14);
	CHECK_INT(r.ur_output, 1);
	CHECK_INT(r.ur_cost_seen, 1);
	CHECK(r.ur_cost > 2.9e-6 && r.ur_cost < 3.0e-6);
	ok = 0;
 end:
	return (ok);
}

/* Figures clamped, parts never above their whole, odd models cleaned. */
static int
test_figures(void)
{
	struct proxy_api_usage_result	 r;
	int				 ok = -1;

	usage_run(PROXY_API_USAGE_OPENAI_CHAT, JSON, S("{\"model\":"
	    "\"gpt\\u00e9 x\\n\",\"usage\":{\"prompt_tokens\":10,"
	    "\"completion_tokens\":-5,\"prompt_tokens_details\":"
	    "{\"cached_tokens\":99},\"completion_tokens_details\":"
	    "{\"reasoning_tokens\":\"7\"}}}"), 0, 0, 1, &r);
	CHECK_INT(r.ur_input, 10);
	CHECK_INT(r.ur_cached_input, 10);
	CHECK_INT(r.ur_output, 0);
	CHECK_INT(r.ur_reasoning, 0);
	CHECK_STR(r.ur_model, "gpt???x?");
	usage_run(PROXY_API_USAGE_ANTHROPIC_MESSAGES, JSON, S("{\"type\":"
	    "\"message\",\"usage\":{\"input_tokens\":9007199254740993,"
	    "\"cache_read_input_tokens\":9007199254740993,"
	    "\"cache_creation_input_tokens\":9007199254740993,"
	    "\"output_tokens\":1e300}}"), 0, 0, 1, &r);
	CHECK_INT(r.ur_input, 3 * PROXY_API_USAGE_COUNT_MAX);
	CHECK_INT(r.ur_output, PROXY_API_USAGE_COUNT_MAX);
	CHECK_INT(r.ur_cached_input + r.ur_cache_creation <= r.ur_input, 1);
	CHECK_STR(proxy_api_usage_kind_name(PROXY_API_USAGE_GEMINI),
	    "gemini");
	CHECK_STR(proxy_api_usage_kind_name((enum proxy_api_usage_kind)99),
	    "unknown");
	ok = 0;
 end:
	return (ok);
}

static int
test_oversized(void)
{
	struct proxy_api_usage	 u;
	char			*b = NULL;
	size_t			 n = 65536, i;
	int			 ok = -1;

	CHECK((b = malloc(n)) != NULL);
	/* A data line past PROXY_SSE_LINE_MAX, all of it in one string. */
	proxy_api_usage_init(&u, PROXY_API_USAGE_ANTHROPIC_MESSAGES, 1, SSE);
	CHECK_INT(proxy_api_usage_feed(&u, S(ANTHROPIC_START)), 0);
	CHECK_INT(proxy_api_usage_feed(&u, S("data: {\"x\":\"")), 0);
	memset(b, 'x', n);
	for (i = 0; i < PROXY_SSE_LINE_MAX / n - 1; i++)
		CHECK_INT(proxy_api_usage_feed(&u, b, n), 0);
	CHECK(u.pu_ss.ss_data.sd_size <= 1024);	/* nothing held */
	CHECK_INT(proxy_api_usage_feed(&u, b, n), -1);
	CHECK_INT(u.pu_result.ur_oversized, 1);
	CHECK_INT(proxy_api_usage_feed(&u, S(ANTHROPIC_REST)), -1);
	proxy_api_usage_end(&u, 1);
	CHECK_INT(u.pu_result.ur_complete, 0);	/* message_stop not read */
	CHECK_INT(u.pu_result.ur_input, 3544);	/* what came before stays */
	proxy_api_usage_clear(&u);
	/* A comment line past it. */
	proxy_api_usage_init(&u, PROXY_API_USAGE_OPENAI_CHAT, 1, SSE);
	CHECK_INT(proxy_api_usage_feed(&u, S(":")), 0);
	for (i = 0; i < PROXY_SSE_LINE_MAX / n - 1; i++)
		CHECK_INT(proxy_api_usage_feed(&u, b, n), 0);
	CHECK_INT(proxy_api_usage_feed(&u, b, n - 1), 0);	/* at the bound */
	CHECK_INT(proxy_api_usage_feed(&u, S("x")), -1);
	CHECK_INT(u.pu_result.ur_oversized, 1);
	proxy_api_usage_clear(&u);
	/* Structure past PROXY_API_USAGE_JSON_MAX: numbers are kept. */
	for (i = 0; i < n; i += 2)
		memcpy(b + i, "1,", 2);
	proxy_api_usage_init(&u, PROXY_API_USAGE_OPENAI_CHAT, 1, SSE);
	CHECK_INT(proxy_api_usage_feed(&u, S("data: [")), 0);
	for (i = 0; i < PROXY_API_USAGE_JSON_MAX / n - 1; i++)
		CHECK_INT(proxy_api_usage_feed(&u, b, n), 0);
	CHECK_INT(proxy_api_usage_feed(&u, b, n), -1);
	CHECK_INT(u.pu_result.ur_oversized, 1);
	proxy_api_usage_clear(&u);
	proxy_api_usage_init(&u, PROXY_API_USAGE_GEMINI, 0, JSON);
	CHECK_INT(proxy_api_usage_feed(&u, S("{\"a\":[")), 0);
	for (i = 0; i <= PROXY_API_USAGE_JSON_MAX / n; i++)
		proxy_api_usage_feed(&u, b, n);
	CHECK_INT(u.pu_result.ur_oversized, 1);
	proxy_api_usage_clear(&u);
	/* A lowered bound: events before the long line still count. */
	proxy_api_usage_init(&u, PROXY_API_USAGE_OPENAI_CHAT, 1, SSE);
	u.pu_ss.ss_line_max = 400;
	CHECK_INT(proxy_api_usage_feed(&u, S(CHAT_HEAD)), 0);
	CHECK_INT(proxy_api_usage_feed(&u, S(CHAT_USAGE CHAT_DONE)), -1);
	proxy_api_usage_end(&u, 1);
	CHECK_INT(u.pu_result.ur_events, 3);
	CHECK_STR(u.pu_result.ur_model, "o4-mini-2025-04-16");
	CHECK_INT(u.pu_result.ur_usage_seen, 0);
	CHECK_INT(u.pu_result.ur_oversized, 1);
	proxy_api_usage_clear(&u);
	ok = 0;
 end:
	free(b);
	return (ok);
}

static int
test_request(void)
{
	struct proxy_api_usage_req	 rq;
	char				 big[300];
	int				 ok = -1;

	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_CHAT,
	    S("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"stream\":true,\"max_tokens\":100,"
	    "\"max_completion_tokens\":200,\"n\":2}"), &rq), 0);
	CHECK_STR(rq.uq_model, "gpt-4o");
	CHECK_INT(rq.uq_model_bad, 0);
	CHECK_INT(rq.uq_max_output, 200);
	CHECK_INT(rq.uq_choices, 2);
	CHECK_INT(rq.uq_stream, 1);
	CHECK_INT(rq.uq_include_usage, 0);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENROUTER_CHAT,
	    S("{\"model\":\"openai/gpt-4o:free\",\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}"), &rq), 0);
	CHECK_STR(rq.uq_model, "openai/gpt-4o:free");
	CHECK_INT(rq.uq_max_output, -1);
	CHECK_INT(rq.uq_include_usage, 1);
	CHECK_INT(rq.uq_choices, 1);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_ANTHROPIC_MESSAGES,
	    S("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":8192,"
	    "\"stream\":true,\"thinking\":{\"type\":\"enabled\","
	    "\"budget_tokens\":4096},\"messages\":[]}"), &rq), 0);
	CHECK_INT(rq.uq_max_output, 8192);
	CHECK_INT(rq.uq_stream, 1);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_RESPONSES,
	    S("{\"model\":\"gpt-5\",\"input\":\"x\",\"max_output_tokens\":"
	    "100.5,\"max_tokens\":9}"), &rq), 0);
	CHECK_INT(rq.uq_max_output, 101);
	CHECK_INT(rq.uq_stream, 0);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_GEMINI,
	    S("{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],"
	    "\"generationConfig\":{\"maxOutputTokens\":1024,"
	    "\"candidateCount\":2}}"), &rq), 0);
	CHECK_INT(rq.uq_max_output, 1024);
	CHECK_INT(rq.uq_choices, 2);
	CHECK_STR(rq.uq_model, "");
	CHECK_INT(rq.uq_model_bad, 0);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_GEMINI,
	    S("{\"generation_config\":{\"max_output_tokens\":77}}"), &rq), 0);
	CHECK_INT(rq.uq_max_output, 77);
	/* An unusable model is "" and says so, never cut. */
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_CHAT,
	    S("{\"model\":5}"), &rq), 0);
	CHECK_INT(rq.uq_model_bad, 1);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_CHAT,
	    S("{\"model\":\"gpt 4\"}"), &rq), 0);
	CHECK_INT(rq.uq_model_bad, 1);
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"model\":\"", 10);
	memcpy(big + sizeof(big) - 2, "\"}", 2);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_CHAT, big,
	    sizeof(big), &rq), 0);
	CHECK_INT(rq.uq_model_bad, 1);
	CHECK_STR(rq.uq_model, "");
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_CHAT,
	    S("[{\"model\":\"x\"}]"), &rq), -1);
	CHECK_INT(proxy_api_usage_request(PROXY_API_USAGE_OPENAI_CHAT,
	    S("{\"model\":"), &rq), -1);
	ok = 0;
 end:
	return (ok);
}

static int
test_inject(void)
{
	char	*out = NULL;
	size_t	 n;
	int	 inj, ok = -1;

	CHECK_INT(proxy_api_usage_inject(S("{\"model\": \"gpt-4o\", "
	    "\"stream\": true, \"messages\": [{\"role\": \"user\", "
	    "\"content\": \"hi \\u00e9 \\u0000\"}], \"temperature\": 0.5, "
	    "\"seed\": 9007199254740993}"), &out, &n, &inj), 0);
	CHECK_INT(inj, 1);
	CHECK_STR(out, "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"hi \xc3\xa9 \\u0000\"}],"
	    "\"temperature\":0.5,\"seed\":9007199254740993,"
	    "\"stream_options\":{\"include_usage\":true}}");
	CHECK_INT(n, strlen(out));
	free(out);
	/* Other stream options stay, in place. */
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":true,"
	    "\"stream_options\":{\"include_obfuscation\":false},\"n\":1}"),
	    &out, &n, &inj), 0);
	CHECK_INT(inj, 1);
	CHECK_STR(out, "{\"stream\":true,\"stream_options\":"
	    "{\"include_obfuscation\":false,\"include_usage\":true},\"n\":1}");
	free(out);
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":false},\"n\":1}"),
	    &out, &n, &inj), 0);
	CHECK_STR(out, "{\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":true},\"n\":1}");
	free(out);
	CHECK_INT(proxy_api_usage_inject(S("{\"stream_options\":null,"
	    "\"stream\":true}"), &out, &n, &inj), 0);
	CHECK_STR(out, "{\"stream_options\":{\"include_usage\":true},"
	    "\"stream\":true}");
	free(out);
	out = NULL;
	/* Nothing to do: the body goes as it is. */
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}"), &out, &n, &inj),
	    0);
	CHECK_INT(inj, 0);
	CHECK(out == NULL);
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":false}"), &out, &n,
	    &inj), 0);
	CHECK_INT(inj, 0);
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":\"true\"}"), &out,
	    &n, &inj), 0);
	CHECK_INT(inj, 0);
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":true,"
	    "\"stream_options\":7}"), &out, &n, &inj), 0);
	CHECK_INT(inj, 0);
	/* Refused: not a JSON object. */
	CHECK_INT(proxy_api_usage_inject(S("[{\"stream\":true}]"), &out, &n,
	    &inj), -1);
	CHECK_INT(proxy_api_usage_inject(S("{\"stream\":true"), &out, &n,
	    &inj), -1);
	CHECK_INT(proxy_api_usage_inject(S(""), &out, &n, &inj), -1);
	CHECK(out == NULL);
	ok = 0;
 end:
	free(out);
	return (ok);
}

static int
test_filter(void)
{
	static const char	*eols[] = { "\n", "\r\n", "\r" };
	char			*in = NULL, *want = NULL;
	size_t			 i, inlen, wantlen;
	int			 ok = -1;

	/* Exactly the usage event goes, at every split, every line end. */
	for (i = 0; i < 3; i++) {
		CHECK((in = eol_convert(S(chat_stream), eols[i], &inlen)) !=
		    NULL);
		CHECK((want = eol_convert(S(chat_filtered), eols[i],
		    &wantlen)) != NULL);
		CHECK_INT(filter_splits(in, inlen, 0, want, wantlen, 1, 0), 0);
		free(in);
		free(want);
		in = want = NULL;
	}
	/* Without a usage event nothing changes. */
	CHECK_INT(filter_splits(S(chat_filtered), 0, S(chat_filtered), 0, 0),
	    0);
	CHECK_INT(filter_splits(S(openrouter_error), 0, S(openrouter_error),
	    0, 0), 0);
	/* Comments around stay; "id:" and a comment inside go with it. */
	CHECK_INT(filter_splits(S(": hi\n\n" CHAT_HEAD ": keep\n\nid: 4\n"
	    ": inside\n" CHAT_USAGE ": after\n\n" CHAT_DONE), 0,
	    S(": hi\n\n" CHAT_HEAD ": keep\n\n: after\n\n" CHAT_DONE), 1, 0),
	    0);
	/* Only the first; a usage chunk with choices is no usage chunk. */
	CHECK_INT(filter_splits(S(CHAT_USAGE CHAT_USAGE CHAT_DONE), 0,
	    S(CHAT_USAGE CHAT_DONE), 1, 0), 0);
	CHECK_INT(filter_splits(S("data: {\"choices\":[{}],\"usage\":"
	    "{\"prompt_tokens\":1}}\n\ndata: {\"choices\":[],\"usage\":null}"
	    "\n\n"), 0, S("data: {\"choices\":[{}],\"usage\":"
	    "{\"prompt_tokens\":1}}\n\ndata: {\"choices\":[],\"usage\":null}"
	    "\n\n"), 0, 0), 0);
	/* Data on two lines is one event. */
	CHECK_INT(filter_splits(S("data: {\"choices\":[],\n"
	    "data: \"usage\":{\"prompt_tokens\":1}}\r\n\r\ndata: [DONE]\r\n"
	    "\r\n"), 0, S("data: [DONE]\r\n\r\n"), 1, 0), 0);
	/* Not ended by a blank line at the end: it goes through. */
	CHECK_INT(filter_splits(S(CHAT_HEAD "data: {\"choices\":[],"
	    "\"usage\":{}}\n"), 0, S(CHAT_HEAD "data: {\"choices\":[],"
	    "\"usage\":{}}\n"), 0, 0), 0);
	/* An event past the hold bound: give up, all bytes through. */
	CHECK_INT(filter_splits(S(chat_stream), 200, S(chat_stream), 0, 1),
	    0);
	ok = 0;
 end:
	free(in);
	free(want);
	return (ok);
}

/* The filter holds an event no longer than until its blank line. */
static int
test_filter_latency(void)
{
	struct proxy_sse_filter	 sf;
	struct out		 o;
	size_t			 first = strstr(chat_stream, "\n\n") -
				    chat_stream + 2;
	int			 ok = -1;

	memset(&o, 0, sizeof(o));
	proxy_sse_filter_init(&sf);
	proxy_sse_filter_feed(&sf, S(": ping\n\ndata: {\"cho"), out_cb, &o);
	CHECK_INT(o.o_len, 8);		/* the comment, not the event */
	proxy_sse_filter_feed(&sf, "x", 1, out_cb, &o);
	CHECK_INT(o.o_len, 8);
	proxy_sse_filter_feed(&sf, S("\"}\n"), out_cb, &o);
	CHECK_INT(o.o_len, 8);
	proxy_sse_filter_feed(&sf, S("\ndata:"), out_cb, &o);
	CHECK_INT(o.o_len, 24);
	CHECK_STR(o.o_buf, ": ping\n\ndata: {\"chox\"}\n\n");
	proxy_sse_filter_feed(&sf, S(" 1\n\n"), out_cb, &o);
	CHECK_STR(o.o_buf, ": ping\n\ndata: {\"chox\"}\n\ndata: 1\n\n");
	proxy_sse_filter_feed(&sf, chat_stream, first, out_cb, &o);
	CHECK_INT(o.o_len, 33 + first);
	/* The usage event, split after its last CR: the LF goes too. */
	proxy_sse_filter_end(&sf, out_cb, &o);
	proxy_sse_filter_clear(&sf);
	free(o.o_buf);
	memset(&o, 0, sizeof(o));
	proxy_sse_filter_init(&sf);
	proxy_sse_filter_feed(&sf, S("data: {\"choices\":[],\"usage\":{}}\r"
	    "\r"), out_cb, &o);
	CHECK_INT(sf.sf_removed, 1);
	CHECK_INT(o.o_len, 0);
	CHECK_INT(sf.sf_removed_off, 0);
	CHECK_INT(sf.sf_removed_len, 33);
	proxy_sse_filter_feed(&sf, S("\ndata: [DONE]\r\n\r\n"), out_cb, &o);
	CHECK_STR(o.o_buf, "data: [DONE]\r\n\r\n");
	CHECK_INT(sf.sf_removed_len, 34);
	ok = 0;
 end:
	proxy_sse_filter_clear(&sf);
	free(o.o_buf);
	return (ok);
}

static const struct unit_test tests[] = {
	{ "sse_framing", test_sse_framing },
	{ "sse_edges", test_sse_edges },
	{ "anthropic_stream", test_anthropic_stream },
	{ "anthropic_cumulative", test_anthropic_cumulative },
	{ "anthropic_cut", test_anthropic_cut },
	{ "anthropic_body", test_anthropic_body },
	{ "chat_stream", test_chat_stream },
	{ "chat_body", test_chat_body },
	{ "responses", test_responses },
	{ "gemini_sse", test_gemini_sse },
	{ "gemini_json", test_gemini_json },
	{ "gemini_image", test_gemini_image },
	{ "openrouter", test_openrouter },
	{ "figures", test_figures },
	{ "oversized", test_oversized },
	{ "request", test_request },
	{ "inject", test_inject },
	{ "filter", test_filter },
	{ "filter_latency", test_filter_latency },
};

UNIT_MAIN("proxy_api_usage", tests)
