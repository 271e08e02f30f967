# OpenCode in a real workspace: a workspace created with
# "agent":"opencode" runs OpenCode (from npm, bound into the sandbox with
# the plugin package its config folder wants) for its messages; control
# sends the agent with /start, the key and ANTHROPIC_BASE_URL come from
# the Global environment, and OpenCode's Anthropic provider talks to the
# scripted Messages-API server on the host through the sandbox's one
# allowed port (no egress, no DNS: nothing else is reachable; text
# answers: t/49-agent-opencode.t has the tools).  The session goes on
# across sleep and wake.  Root.  The steps: t/lib/Replicas/AgentWorkspace.pm.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::AgentWorkspace qw(agent_workspace_flow);
use Replicas::ModelServer qw(start_model_server);

agent_workspace_flow(
    agent => 'opencode', name => 'OpenCode', cli => 'opencode',
    server => \&start_model_server,
    key => [ANTHROPIC_API_KEY => 'sk-ant-test-not-real'],
    base_url => sub { (ANTHROPIC_BASE_URL => "http://$_[0]") },
    history => 'messages',
    key_in_log => qr/sk-ant-test/);

done_testing();
