# A message through the API reaches the coding agent in a real workspace:
# the gateway stores it, control delivers it to the sandbox's engine, the
# engine runs Claude Code (from npm, bound into the sandbox), which talks
# to a scripted Messages-API server on the host through the sandbox's one
# allowed port; events come back through the gateway.  Without a model key
# the answer says so; the key set in the Global environment applies at the
# next wake, and the conversation goes on across sleep and wake.  Root.

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
use Replicas::ModelServer qw(start_model_server);

my $agents = Replicas::Test::objs_dir() . '/agents';
ok(-x "$agents/node_modules/.bin/claude", 'Claude Code is installed from npm')
    or BAIL_OUT('run ./auto/test (auto/lib.sh rp_install_agents)');

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);

# the model API stand-in, on the host; sandboxes reach the host's bridge
# address on the ports control allows, and nothing else
my $mport = free_port();
my $model = start_model_server(addr => '0.0.0.0', port => $mport, key => 'sk-ant-test-not-real', scripts => [
    { match => qr/write the greeting/, steps => [
        { tool => 'Write', input => { file_path => 'greeting.txt', content => "hello from a workspace\n" } },
        { text => 'Done: greeting.txt holds the greeting.' } ] },
    { match => qr/what did you write/, steps => [ { text => 'The greeting, in greeting.txt.' } ] },
]);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--allow-port', $mport,
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);
(my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};

my $repo = fixture_repo('agentapp', { 'README.md' => "# an app\n",
    'replicas.json' => encode_json({ systemPrompt => 'The tests of this app run with make check.' }) }, $me->{org});
my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', "workspace $id") or diag $ctl->log;

sub events { $ws->events($id) }
sub wait_event { $ws->wait_event($id, @_) }

# --- no key yet: a clear answer ------------------------------------------------------
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'hello there' });
is($st, 202, 'a message through the API');
my $failed = wait_event('chat.turn.failed', $j->{seq});
is($failed->{payload}{reason}, 'no_model_key', 'no model key: the events say so')
    or diag explain events();
like($failed->{payload}{message}, qr/ANTHROPIC_API_KEY/, 'and what to set');

# --- the key in the Global environment, applied at the next wake ---------------------
($st) = api($gw, $key, 'PUT', '/v1/environments/global', { variables => {
    ANTHROPIC_API_KEY => 'sk-ant-test-not-real', ANTHROPIC_BASE_URL => "http://$host:$mport" } });
is($st, 200, 'the model key goes into the Global environment');
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'Please write the greeting' });
is($j->{status}, 'waking', 'a message wakes it');
my $seq = $j->{seq};
my $done = wait_event('chat.turn.completed', $seq);
ok($done, 'the agent answered, in the workspace') or diag $ctl->log;
is($done->{payload}{result}, 'Done: greeting.txt holds the greeting.', 'with its answer');
ok((grep { $_->{type} eq 'tool.use' && $_->{payload}{tool} eq 'Write' } @{ events() }),
   'it used a tool');
my $sandbox = $redis->cmd('HGET', ws_key($id), 'sandbox');
is(do { local (@ARGV, $/) = "$ctl->{home}/sandboxes/$sandbox/merged/agentapp/greeting.txt"; <> },
   "hello from a workspace\n", "the file is in the workspace's checkout");
my $session = $done->{payload}{session_id};
like(encode_json($model->turns->[0]{body}{system} // ''), qr/run with make check/,
     "the agent got replicas.json's systemPrompt through control");

# --- the conversation survives sleep and wake --------------------------------------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep again');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'So what did you write?' });
my $done2 = wait_event('chat.turn.completed', $j->{seq});
is($done2->{payload}{session_id}, $session, 'after the wake the same session goes on');
my $last = $model->turns->[-1]{body}{messages};
ok((grep { encode_json($_) =~ /write the greeting/ } @$last), 'with the earlier conversation');

unlike($ctl->log, qr/sk-ant-test/, 'the key is in no worker log');

done_testing();
