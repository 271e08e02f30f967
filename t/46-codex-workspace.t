# Codex in a real workspace: a workspace created with "agent":"codex"
# runs Codex (from npm, bound into the sandbox) for its messages; control
# sends the agent with /start, the key and OPENAI_BASE_URL come from the
# Global environment, and Codex talks to a scripted Responses-API server
# on the host through the sandbox's one allowed port (its default model,
# answered with text: t/39-agent-codex.t has the tools).  The thread goes
# on across sleep and wake.  Root.  The steps: t/lib/Replicas/AgentWorkspace.pm.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::AgentWorkspace qw(agent_workspace_flow);
use Replicas::ResponsesServer qw(start_responses_server);

agent_workspace_flow(
    agent => 'codex', name => 'Codex', cli => 'codex',
    server => \&start_responses_server,
    key => [OPENAI_API_KEY => 'sk-openai-test-not-real'],
    base_url => sub { (OPENAI_BASE_URL => "http://$_[0]/v1") },
    history => 'input',
    key_in_log => qr/sk-openai-test/);

done_testing();
