# Codex in a real workspace: a workspace created with "agent":"codex"
# runs Codex (from npm, bound into the sandbox) for its messages; control
# sends the agent with /start, the key and OPENAI_BASE_URL come from the
# Global environment, and Codex talks to a scripted Responses-API server
# on the host through the sandbox's one allowed port (its default model,
# answered with text: t/39-agent-codex.t has the tools).  The thread goes
# on across sleep and wake.  Root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis http_request http_json poll_until free_port);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);
use Replicas::Workspaces;
use Replicas::ResponsesServer qw(start_responses_server);

my $agents = Replicas::Test::objs_dir() . '/agents';
ok(-x "$agents/node_modules/.bin/codex", 'Codex is installed from npm')
    or BAIL_OUT('run ./auto/test (auto/lib.sh rp_install_agents)');

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);

# the model API stand-in, on the host; sandboxes reach the host's bridge
# address on the ports control allows, and nothing else
my $mport = free_port();
my $model = start_responses_server(addr => '0.0.0.0', port => $mport, scripts => [
    { match => qr/write the greeting/, steps => [ { text => 'Done: the greeting is written.' } ] },
    { match => qr/what did you write/, steps => [ { text => 'The greeting.' } ] },
]);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--allow-port', $mport,
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);
(my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};

my $repo = fixture_repo('agentapp', { 'README.md' => "# an app\n" });
my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo,
                                                            agent => 'codex' });
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', "workspace $id") or diag $ctl->log;

sub events { $ws->events($id) }
sub wait_event { $ws->wait_event($id, @_) }

sub of_type_started { $ws->event($id, 'chat.turn.started', $_[0]) }

# --- no key yet: a clear answer ------------------------------------------------------
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'hello there' });
is($st, 202, 'a message through the API');
my $failed = wait_event('chat.turn.failed', $j->{seq});
is($failed->{payload}{reason}, 'no_model_key', 'no model key: the events say so')
    or diag explain events();
like($failed->{payload}{message}, qr/OPENAI_API_KEY/, 'and what to set');

# --- the key in the Global environment, applied at the next wake ---------------------
($st) = api($gw, $key, 'PUT', '/v1/environments/global', { variables => {
    OPENAI_API_KEY => 'sk-openai-test-not-real', OPENAI_BASE_URL => "http://$host:$mport/v1" } });
is($st, 200, 'the model key goes into the Global environment');
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'Please write the greeting' });
is($j->{status}, 'waking', 'a message wakes it');
my $seq = $j->{seq};
my $done = wait_event('chat.turn.completed', $seq);
ok($done, 'the agent answered, in the workspace') or diag $ctl->log;
is($done->{payload}{result}, 'Done: the greeting is written.', 'with its answer');
is(of_type_started($seq)->{payload}{agent}, 'codex', "by Codex, the workspace's agent");
my $session = $done->{payload}{session_id};

# --- the conversation survives sleep and wake --------------------------------------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep again');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'So what did you write?' });
my $done2 = wait_event('chat.turn.completed', $j->{seq});
is($done2->{payload}{session_id}, $session, 'after the wake the same session goes on');
my $last = $model->turns->[-1]{body}{input};
ok((grep { encode_json($_) =~ /write the greeting/ } @$last), 'with the earlier conversation');

unlike($ctl->log, qr/sk-openai-test/, 'the key is in no worker log');

done_testing();
