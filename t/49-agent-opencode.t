# The engine runs OpenCode (npm opencode-ai, installed by auto/ into
# objs/agents) against the local Messages-API stand-in
# (t/lib/Replicas/ModelServer.pm): the engine points OpenCode's Anthropic
# provider at ANTHROPIC_BASE_URL from the workspace's environment (through
# OPENCODE_CONFIG_CONTENT).  The whole test runs in a network namespace of
# its own with only loopback up: OpenCode must not need anything from the
# Internet (models.dev, npm, updates, sharing).  The script makes the agent
# write a file and run a command; the events show the turn, its tools and
# its outcome; a message sent mid-turn is queued and runs after; after an
# engine restart (a wake) the next message resumes the same session; an
# interrupt stops a turn; no model key is a clear failure.  The "cursor"
# agent is known, and without its CLI a turn fails saying so.

use strict;
use warnings;

# offline: the test again, in a new network namespace (needs root, as
# ./auto/test runs; unshare and ip from util-linux and iproute2)
BEGIN {
    if (!$ENV{REPLICAS_TEST_NETNS}) {
        $ENV{REPLICAS_TEST_NETNS} = 1;
        exec('unshare', '-n', '--', 'sh', '-c', 'ip link set lo up && exec "$@"',
             'sh', $^X, $0, @ARGV)
            or die "unshare -n: $! (this test runs offline in a network namespace)";
    }
}

use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir tmpdir poll_until);
use Replicas::Engine;
use Replicas::ModelServer qw(start_model_server);

my $agents = objs_dir() . '/agents';
ok(-x "$agents/node_modules/.bin/opencode", 'OpenCode is installed from npm')
    or BAIL_OUT("run ./auto/test (auto/lib.sh rp_install_agents)");
is(`ip -o link show up 2>/dev/null | grep -v ' lo:' | wc -l` + 0, 0,
   'no network but loopback');

my $dir = tmpdir();
my ($state, $work) = ("$dir/state", "$dir/work");
mkdir $work;
mkdir "$work/app";

my $model = start_model_server(key => 'sk-ant-test-not-real', scripts => [
    { match => qr/write the greeting/, steps => [
        { tool => 'write', input => { filePath => "$work/app/hello.txt",
                                      content => "hello from the agent\n" } },
        # slow enough for a second message to arrive mid-turn
        { tool => 'bash', input => { command => 'cat hello.txt > copy.txt',
                                     description => 'copy the greeting' }, delay => 2 },
        { text => 'Wrote the greeting and copied it.' } ] },
    { match => qr/second task/, steps => [ { text => 'The second task is done.' } ] },
    { match => qr/after the wake/, steps => [ { text => 'Still the same conversation.' } ] },
    { match => qr/take your time/, steps => [ { text => 'Finally.', delay => 60 } ] },
    { match => qr/after the interrupt/, steps => [ { text => 'Back to work.' } ] },
]);

my $engine = Replicas::Engine->new(dir => $dir, work => $work, state => $state,
                                   workspace => 'opencodews');
sub api { $engine->api(@_) }
sub events { $engine->events }
sub of_type { $engine->of_type(@_) }
sub wait_event { $engine->wait_event(@_) }
my $seq = 0;
sub send_msg {
    my ($text, $chat) = @_;
    my ($st, $j) = api('POST', '/messages', { seq => ++$seq, text => $text, chat => $chat,
                                              user => 'ada', at => time });
    return ($st, $j, $seq);
}
my %env = (ANTHROPIC_BASE_URL => $model->url, ANTHROPIC_API_KEY => 'sk-ant-test-not-real');
sub start_ws {
    my ($e, %o) = @_;
    return api('POST', '/start', { env => $e, startHook => undef, cwd => "$work/app",
                                   agent => 'opencode', %o });
}

# --- no model key: a clear failure, nothing run -----------------------------------------
my ($st, $j) = start_ws({});
is($st, 202, '/start with agent opencode') or diag encode_json($j);
my (undef, undef, $s0) = send_msg('hello?');
my $failed = wait_event('chat.turn.failed', seq => $s0);
is($failed->{payload}{reason}, 'no_model_key', 'without a model key the turn fails saying so');
like($failed->{payload}{message}, qr/ANTHROPIC_API_KEY/, 'and what to set');
is(scalar @{ $model->requests }, 0, 'no request reached the model');
(undef, $j) = api('GET', '/chats');
is($j->{chats}[0]{agent}, 'opencode', "a chat a message makes gets the workspace's agent");

# --- a turn with tools, and a second message queued behind it ---------------------------
start_ws(\%env, systemPrompt => 'Prefer small commits in this repository.');
my ($st1, $j1, $s1) = send_msg('Please write the greeting');
is($st1, 202, 'a message');
is($j1->{status}, 'sent', 'the agent starts on it at once');
ok(wait_event('chat.turn.started', seq => $s1), 'chat.turn.started');
my $sess_ev = wait_event('chat.session', seq => $s1);
is($sess_ev->{payload}{agent}, 'opencode', 'chat.session names the agent');
ok(wait_event('tool.use', seq => $s1, tool => 'write'), 'the agent used write')
    or diag `tail -20 $dir/engine.log; tail -30 $state/agents/default.log`;
my ($st2, $j2, $s2) = send_msg('Now the second task');
is($j2->{status}, 'queued', 'a message mid-turn is queued');
is($j2->{position}, 1, 'behind the running turn');

my $done1 = wait_event('chat.turn.completed', seq => $s1);
ok($done1, 'the first turn completed') or diag `tail -30 $state/agents/default.log`;
is($done1->{payload}{agent}, 'opencode', 'by opencode');
ok(!$done1->{payload}{is_error}, 'not an error');
is($done1->{payload}{result}, 'Wrote the greeting and copied it.', "with the agent's answer");
# three model calls of the script's usage (120 in, 25 out each)
is($done1->{payload}{usage}{input_tokens}, 360, "the turn's input tokens, all its steps");
is($done1->{payload}{usage}{output_tokens}, 75, 'and output tokens');
ok($done1->{payload}{cost_usd} > 0, "its cost ($done1->{payload}{cost_usd})");
my $session = $done1->{payload}{session_id};
like($session, qr/^ses_\w+$/, "and OpenCode's session ($session)");
is($sess_ev->{payload}{session_id}, $session, 'the one chat.session told');
ok(of_type('tool.use', seq => $s1, tool => 'bash')->[0], 'it ran bash');
my @results = @{ of_type('tool.result', seq => $s1) };
is(scalar @results, 2, 'tool results are events');
ok(!(grep { $_->{payload}{is_error} } @results), 'neither an error');
my $deltas = of_type('chat.turn.delta', seq => $s1);
ok((grep { $_->{payload}{text} eq 'Wrote the greeting and copied it.' } @$deltas),
   'text comes as deltas');
is(do { local (@ARGV, $/) = "$work/app/hello.txt"; <> }, "hello from the agent\n", 'the file is written');
is(do { local (@ARGV, $/) = "$work/app/copy.txt"; <> }, "hello from the agent\n", 'the command ran');

# what the agent is told: OpenCode's own prompt, the workspace's ways, the repository's
my $system = encode_json($model->turns->[0]{body}{system} // '');
like($system, qr/replicas preview create <port>/, 'the agent learns how to publish previews');
like($system, qr/Prefer small commits in this repository/, "and gets replicas.json's systemPrompt");
like($model->turns->[0]{headers}{'x-api-key'} // '', qr/^sk-ant-test/, 'with the workspace\'s key');

my $done2 = wait_event('chat.turn.completed', seq => $s2);
ok($done2, 'then the queued message ran');
is($done2->{payload}{session_id}, $session, 'in the same session');
is($done2->{payload}{result}, 'The second task is done.', 'its answer');
my @order = map { "$_->{type}:$_->{payload}{seq}" }
            grep { $_->{type} =~ /^chat\.turn\.(started|completed)$/
                   && $_->{payload}{seq} >= $s1 } @{ events() };
is_deeply(\@order, ["chat.turn.started:$s1", "chat.turn.completed:$s1",
                    "chat.turn.started:$s2", "chat.turn.completed:$s2"], 'one after the other');

# nothing fetched: OpenCode's config folder has the package it would install from npm
my $cfg = "$dir/home/.config/opencode";
is(readlink("$cfg/node_modules"), "$agents/opencode-plugin/node_modules",
   "OpenCode's config folder gets the plugin package installed with the CLI");
my $oclog = do { local (@ARGV, $/) = glob("$dir/home/.local/share/opencode/log/*.log"); <> } // '';
ok(length $oclog, "OpenCode's own log is there");
unlike($oclog, qr/dependency install failed|level=ERROR/, 'it tried no install and met no error');

# --- the engine restarted (a wake): the next message resumes the session ---------------
$engine->restart;
start_ws(\%env);
my (undef, undef, $s3) = send_msg('Is this after the wake?');
my $started3 = wait_event('chat.turn.started', seq => $s3);
is($started3->{payload}{session_id}, $session, 'the turn starts in the saved session');
my $done3 = wait_event('chat.turn.completed', seq => $s3);
is($done3->{payload}{session_id}, $session, 'after a restart the conversation resumes');
my $last = $model->turns->[-1]{body}{messages};
ok((grep { encode_json($_) =~ /write the greeting/ } @$last),
   'the agent sent the earlier conversation along');
my (undef, $chats) = api('GET', '/chats');
is($chats->{chats}[0]{session_id}, $session, 'the chat keeps its session');

# --- interrupt -------------------------------------------------------------------------
my (undef, undef, $s4) = send_msg('take your time');
ok(wait_event('chat.turn.started', seq => $s4), 'a slow turn starts');
my (undef, undef, $s5) = send_msg('and after the interrupt');
($st, $j) = api('POST', '/chats/default/interrupt');
is($st, 202, 'interrupt');
ok($j->{interrupted}, 'a turn was running');
ok(wait_event('chat.turn.interrupted', seq => $s4), 'the turn is interrupted');
my $done5 = wait_event('chat.turn.completed', seq => $s5);
is($done5->{payload}{result}, 'Back to work.', 'and the queue goes on');

# --- Cursor: known, its CLI not installed here ------------------------------------------
($st) = api('POST', '/chats', { name => 'cursor', agent => 'cursor' });
is($st, 201, 'a chat with agent cursor');
my (undef, undef, $s6) = send_msg('hello cursor', 'cursor');
my $nocursor = wait_event('chat.turn.failed', seq => $s6);
is($nocursor->{payload}{reason}, 'no_agent', 'without its CLI the turn fails');
like($nocursor->{payload}{message}, qr/cursor-agent is not installed/, 'saying so');

# --- an agent that ignores SIGTERM: an interrupt still ends its turn ---------------------
# (SIGTERM to its group, then SIGKILL a few seconds later)
my $stub = "$dir/stubborn";
mkdir $stub;
open my $sfh, '>', "$stub/cursor-agent" or die $!;
print $sfh "#!/bin/sh\ntrap '' TERM\nsleep 300\n";
close $sfh;
chmod 0755, "$stub/cursor-agent";
start_ws({ %env, PATH => "$stub:/usr/bin:/bin", CURSOR_API_KEY => 'cursor-test-not-real' });
my (undef, undef, $s7) = send_msg('you will not stop', 'cursor');
ok(wait_event('chat.turn.started', seq => $s7), 'a turn of an agent that ignores SIGTERM starts');
($st, $j) = api('POST', '/chats/cursor/interrupt');
ok($st == 202 && $j->{interrupted}, 'interrupt');
ok(wait_event('chat.turn.interrupted', seq => $s7), 'its turn is interrupted all the same');

ok((api('GET', '/healthz'))[0] == 200, 'the engine is fine');
unlike(do { local (@ARGV, $/) = "$dir/engine.log"; <> } // '', qr/sk-ant-test|write the greeting/,
       'no key and no message text in the engine log');

# the stand-in takes only that key, as Anthropic does: a stale one fails the test
my ($kst, $kj) = $model->ask('/v1/messages', ['x-api-key', 'sk-ant-stale']);
is_deeply([$kst, $kj->{error}{type}], [401, 'authentication_error'], 'another key: 401 authentication_error');
($kst) = $model->ask('/v1/messages', ['Authorization', 'Bearer sk-ant-test-not-real']);
isnt($kst, 401, 'the key as a Bearer token is taken');
done_testing();
