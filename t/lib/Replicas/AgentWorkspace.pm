package Replicas::AgentWorkspace;

# One agent in a real workspace, the same steps for every agent's CLI (the
# tests t/46 and t/50 name the agent and its model-API stand-in): a
# workspace created with "agent" runs that agent for its messages; control
# sends the agent with /start; with no key the events say what to set; the
# key and the base URL go into the Global environment and reach the agent
# at the next wake; the agent talks to the stand-in on the host through
# the sandbox's one allowed port (no egress, no DNS); the session goes on
# across sleep and wake; the key is in no worker log.  Root.
#
#   agent_workspace_flow(
#       agent => 'codex', name => 'Codex', cli => 'codex',
#       server => \&start_responses_server,      # (addr, port, key, scripts)
#       key => [OPENAI_API_KEY => 'sk-openai-test-not-real'],
#       base_url => sub { (OPENAI_BASE_URL => "http://$_[0]/v1") },  # host:port
#       history => 'input',                       # the request's conversation
#       key_in_log => qr/sk-openai-test/);        # what no worker log may hold

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use Test::More;
use Replicas::Test qw(start_redis free_port objs_dir tmpdir);
use Replicas::Gateway qw(start_gateway);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);
use Replicas::Workspaces;

our @EXPORT_OK = qw(agent_workspace_flow);

sub agent_workspace_flow {
    my (%o) = @_;
    my ($key_name, $key_value) = @{ $o{key} };

    ok(-x objs_dir() . "/agents/node_modules/.bin/$o{cli}", "$o{name} is installed from npm")
        or BAIL_OUT('run ./auto/test (auto/lib.sh rp_install_agents)');

    my $redis = start_redis();
    my $gw = start_gateway(redis => $redis, auth => 'on');
    my $me = new_identity($redis);
    my $key = $me->{key};
    my $ws = Replicas::Workspaces->new($gw, $key);

    # the model API stand-in, on the host; sandboxes reach the host's
    # bridge address on the ports control allows, and nothing else
    my $mport = free_port();
    my $model = $o{server}->(addr => '0.0.0.0', port => $mport, key => $key_value, scripts => [
        { match => qr/write the greeting/, steps => [ { text => 'Done: the greeting is written.' } ] },
        { match => qr/what did you write/, steps => [ { text => 'The greeting.' } ] },
    ]);
    my $ctl = start_control(redis => $redis, gateway => $gw,
                            args => ['--pool-size', 0, '--allow-port', $mport,
                                     '--repo-root', tmpdir() . '/repos']);
    (my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};

    my $repo = fixture_repo('agentapp', { 'README.md' => "# an app\n" }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo,
                                                                agent => $o{agent} });
    my $id = $j->{id};
    is($ws->wait_state($id, 'awake'), 'awake', "workspace $id") or diag $ctl->log;

    # --- no key yet: a clear answer --------------------------------------------------
    ($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'hello there' });
    is($st, 202, 'a message through the API');
    my $failed = $ws->wait_event($id, 'chat.turn.failed', $j->{seq});
    is($failed->{payload}{reason}, 'no_model_key', 'no model key: the events say so')
        or diag explain $ws->events($id);
    like($failed->{payload}{message}, qr/$key_name/, 'and what to set');

    # --- the key in the Global environment, applied at the next wake -----------------
    ($st) = api($gw, $key, 'PUT', '/v1/environments/global', { variables => {
        $key_name => $key_value, $o{base_url}->("$host:$mport") } });
    is($st, 200, 'the model key goes into the Global environment');
    api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
    is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep');
    ($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages",
                    { text => 'Please write the greeting' });
    is($j->{status}, 'waking', 'a message wakes it');
    my $seq = $j->{seq};
    my $done = $ws->wait_event($id, 'chat.turn.completed', $seq);
    ok($done, 'the agent answered, in the workspace') or diag $ctl->log;
    is($done->{payload}{result}, 'Done: the greeting is written.', 'with its answer');
    is($ws->event($id, 'chat.turn.started', $seq)->{payload}{agent}, $o{agent},
       "by $o{name}, the workspace's agent");
    my $session = $done->{payload}{session_id};

    # --- the conversation survives sleep and wake ------------------------------------
    api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
    is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep again');
    ($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages",
                    { text => 'So what did you write?' });
    my $done2 = $ws->wait_event($id, 'chat.turn.completed', $j->{seq});
    is($done2->{payload}{session_id}, $session, 'after the wake the same session goes on')
        or diag explain [ map { "$_->{id} $_->{type} seq=" . ($_->{payload}{seq} // '')
                                    . ' session=' . ($_->{payload}{session_id} // '')
                                    . ' ' . ($_->{payload}{reason} // '') }
                          grep { $_->{type} =~ /^(chat|engine|workspace)/ } @{ $ws->events($id) } ];
    my $last = $model->turns->[-1]{body}{ $o{history} };
    ok((grep { encode_json($_) =~ /write the greeting/ } @$last), 'with the earlier conversation');

    unlike($ctl->log, $o{key_in_log}, 'the key is in no worker log');
}

1;
