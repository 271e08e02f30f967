# The engine runs Codex (npm @openai/codex, installed by auto/ into
# objs/agents) as a chat's agent, pointed at a local server that speaks
# OpenAI's Responses API (t/lib/Replicas/ResponsesServer.pm) through
# OPENAI_BASE_URL from the workspace's environment (the engine turns it
# into a custom model provider: the CLI takes no base URL from the
# environment).  The workspace's agent comes with /start.  The script
# makes the agent run shell commands and add a file with apply_patch; the
# events show the turn, its tools and its outcome (tokens per turn, though
# Codex reports its thread's running totals; no cost); a message sent
# mid-turn is queued and runs after; after an engine restart (a wake) the
# next message resumes the same thread; an interrupt stops a turn; no
# model key is a clear failure.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX qw(WNOHANG);
use Replicas::Test qw(objs_dir engine_bin tmpdir free_port wait_port http_request
                      http_json poll_until);
use Replicas::Engine;
use Replicas::ResponsesServer qw(start_responses_server);

my $bin = engine_bin();
my $agents = objs_dir() . '/agents';
ok(-x "$agents/node_modules/.bin/codex", 'Codex is installed from npm')
    or BAIL_OUT("run ./auto/test (auto/lib.sh rp_install_agents)");

my $dir = tmpdir();
my ($state, $work) = ("$dir/state", "$dir/work");
mkdir $work;
mkdir "$work/app";

# Codex's own configuration, as a workspace's home would have it: a model
# whose tools are plain functions (exec_command) and apply_patch
mkdir "$dir/home";
mkdir "$dir/home/.codex";
open my $cfg, '>', "$dir/home/.codex/config.toml" or die;
print $cfg qq{model = "gpt-5.5"\n};
close $cfg;

my $patch = "*** Begin Patch\n*** Add File: notes.txt\n+a note from codex\n*** End Patch\n";
my $model = start_responses_server(key => 'sk-openai-test-not-real', scripts => [
    { match => qr/write the greeting/, steps => [
        { shell => 'printf "hello from codex\n" > hello.txt' },
        # slow enough for a second message to arrive mid-turn
        { shell => 'cat hello.txt > copy.txt', delay => 2 },
        { custom => 'apply_patch', input => $patch },
        { text => 'Wrote the greeting and copied it.' } ] },
    { match => qr/second task/, steps => [ { text => 'The second task is done.' } ] },
    { match => qr/after the wake/, steps => [ { text => 'Still the same thread.' } ] },
    { match => qr/take your time/, steps => [ { text => 'Finally.', delay => 60 } ] },
    { match => qr/after the interrupt/, steps => [ { text => 'Back to work.' } ] },
    { match => qr/refused request/, steps => [ { http_status => 400,
                                                 message => 'The model does not exist.' } ] },
]);

my $engine = Replicas::Engine->new(dir => $dir, work => $work, state => $state,
                                   workspace => 'codexws');
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
my %env = (OPENAI_BASE_URL => $model->url, OPENAI_API_KEY => 'sk-openai-test-not-real');
sub start_ws {
    my ($e) = @_;
    return api('POST', '/start', { env => $e, startHook => undef, cwd => "$work/app",
                                   agent => 'codex' });
}


# --- /start names the agent -------------------------------------------------------------
my ($st, $j) = api('POST', '/start', { env => {}, startHook => undef, agent => 'eliza' });
is($st, 400, 'an unknown agent in /start: 400');
like($j->{error}{message} // encode_json($j), qr/claude, codex/, 'saying which');

# --- no model key: a clear failure, nothing run -----------------------------------------
($st, $j) = start_ws({});
is($st, 202, '/start with agent codex') or diag encode_json($j);
my (undef, undef, $s0) = send_msg('hello?');
my $failed = wait_event('chat.turn.failed', seq => $s0);
is($failed->{payload}{reason}, 'no_model_key', 'without a model key the turn fails saying so');
like($failed->{payload}{message}, qr/OPENAI_API_KEY/, 'and what to set');
is(scalar @{ $model->requests }, 0, 'no request reached the model');
(undef, $j) = api('GET', '/chats');
is($j->{chats}[0]{agent}, 'codex', "a chat a message makes gets the workspace's agent");

# --- a turn with tools, and a second message queued behind it ---------------------------
start_ws(\%env);
my ($st1, $j1, $s1) = send_msg('Please write the greeting');
is($st1, 202, 'a message');
is($j1->{status}, 'sent', 'the agent starts on it at once');
my $started = wait_event('chat.turn.started', seq => $s1);
ok($started, 'chat.turn.started');
is($started->{payload}{agent}, 'codex', 'by Codex');
ok(poll_until(30, sub { (api('GET', '/healthz'))[1]{busy} }), 'busy while it works');
my $use = wait_event('tool.use', seq => $s1, tool => 'shell');
ok($use, 'the agent used the shell') or diag `tail -20 $dir/engine.log; cat $state/agents/default.log`;
like($use->{payload}{input}{command} // '', qr/hello\.txt/, 'with its command');
my ($st2, $j2, $s2) = send_msg('Now the second task');
is($j2->{status}, 'queued', 'a message mid-turn is queued');
is($j2->{position}, 1, 'behind the running turn');

my $done1 = wait_event('chat.turn.completed', seq => $s1);
ok($done1, 'the first turn completed') or diag `tail -20 $dir/engine.log; cat $state/agents/default.log`;
my $session = $done1->{payload}{session_id} // '';
like($session, qr/^[0-9a-f-]{36}$/, "with Codex's thread as the session ($session)");
is(of_type('chat.session', seq => $s1)->[0]{payload}{session_id}, $session,
   'chat.session said so as it began');
is($done1->{payload}{result}, 'Wrote the greeting and copied it.', "the agent's answer");
ok(!$done1->{payload}{is_error}, 'not an error');
is($done1->{payload}{cost_usd}, 0, 'no cost: Codex reports none');
is_deeply($done1->{payload}{usage}, { input_tokens => 480, output_tokens => 100 },
          'tokens: four model calls');
my @shell = @{ of_type('tool.use', seq => $s1, tool => 'shell') };
is(scalar @shell, 2, 'two shell commands, each reported once');
my ($result) = grep { $_->{payload}{id} eq $shell[0]{payload}{id} } @{ of_type('tool.result', seq => $s1) };
ok($result && !$result->{payload}{is_error}, 'tool results are events');
my $fc = of_type('tool.use', seq => $s1, tool => 'file_change')->[0];
ok($fc, 'the patch is a file_change');
is($fc->{payload}{input}{changes}[0]{kind}, 'add', 'adding a file');
my ($fc_result) = grep { $_->{payload}{id} eq $fc->{payload}{id} } @{ of_type('tool.result', seq => $s1) };
like($fc_result->{payload}{output} // '', qr/^add .*notes\.txt$/m, 'its result says what changed');
ok((grep { $_->{payload}{text} eq 'Wrote the greeting and copied it.' }
    @{ of_type('chat.turn.delta', seq => $s1) }), 'the text came as deltas');
is(do { local (@ARGV, $/) = "$work/app/hello.txt"; <> }, "hello from codex\n", 'the file is written');
is(do { local (@ARGV, $/) = "$work/app/copy.txt"; <> }, "hello from codex\n", 'the command ran');
is(do { local (@ARGV, $/) = "$work/app/notes.txt"; <> }, "a note from codex\n", 'the patch applied');
is($model->turns->[0]{headers}{authorization}, 'Bearer sk-openai-test-not-real',
   'OPENAI_API_KEY reached the server');

my $done2 = wait_event('chat.turn.completed', seq => $s2);
ok($done2, 'then the queued message ran');
is($done2->{payload}{session_id}, $session, 'in the same thread');
is_deeply($done2->{payload}{usage}, { input_tokens => 120, output_tokens => 25 },
          "its own tokens, not the thread's running totals");
my @order = map { "$_->{type}:$_->{payload}{seq}" }
            grep { $_->{type} =~ /^chat\.turn\.(started|completed)$/ } @{ events() };
is_deeply(\@order, ["chat.turn.started:$s1", "chat.turn.completed:$s1",
                    "chat.turn.started:$s2", "chat.turn.completed:$s2"], 'one after the other');

# --- the engine restarted (a wake): the next message resumes the thread ----------------
$engine->restart;
start_ws(\%env);
my (undef, undef, $s3) = send_msg('Is this after the wake?');
my $started3 = wait_event('chat.turn.started', seq => $s3);
is($started3->{payload}{session_id}, $session, 'the turn starts in the kept thread');
my $done3 = wait_event('chat.turn.completed', seq => $s3);
is($done3->{payload}{session_id}, $session, 'after a restart the conversation resumes');
is($done3->{payload}{result}, 'Still the same thread.', 'with its answer');
is_deeply($done3->{payload}{usage}, { input_tokens => 120, output_tokens => 25 },
          'and its own tokens (the totals were kept)');
my $input = $model->turns->[-1]{body}{input};
ok((grep { encode_json($_) =~ /write the greeting/ } @$input),
   'the agent sent the earlier conversation along');
ok((grep { ($_->{type} // '') eq 'function_call_output' } @$input), 'tool results included');
(undef, $j) = api('GET', '/chats');
is($j->{chats}[0]{session_id}, $session, 'the chat keeps its thread');

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

# --- the model API refuses: the CLI's error is an event, the turn fails -----------------
my (undef, undef, $s6) = send_msg('a refused request');
my $err6 = wait_event('agent.error', seq => $s6);
ok($err6, 'agent.error');
like($err6->{payload}{message} // '', qr/does not exist/, "with the CLI's message");
my $done6 = wait_event('chat.turn.completed', seq => $s6) // wait_event('chat.turn.failed', seq => $s6);
ok($done6 && ($done6->{payload}{is_error} || $done6->{type} eq 'chat.turn.failed'),
   'the turn ends as an error');
ok((api('GET', '/healthz'))[0] == 200, 'the engine is fine');

# --- chats ------------------------------------------------------------------------------
($st) = api('POST', '/chats', { name => 'review', agent => 'claude' });
is($st, 201, 'a chat with another agent');
($st) = api('POST', '/chats', { name => 'plain' });
is($st, 201, 'a chat without one');
(undef, $j) = api('GET', '/chats');
my %agent = map { $_->{name} => $_->{agent} } @{ $j->{chats} };
is_deeply(\%agent, { default => 'codex', review => 'claude', plain => 'codex' },
          "each with its agent, the workspace's by default");

# --- a model that cannot be reached: the turn fails, saying so, within a bound ----------
# (Codex says "Reconnecting..." for minutes; the engine's watchdog ends it)
my $closed = Replicas::Test::free_port();
start_ws({ %env, OPENAI_BASE_URL => "http://127.0.0.1:$closed/v1" });
my (undef, undef, $u) = send_msg('Please write the greeting', 'offline');
my $ufail;
poll_until(75, sub { $ufail = of_type('chat.turn.failed', seq => $u)->[0]
                     // of_type('chat.turn.completed', seq => $u)->[0] });
ok($ufail && $ufail->{type} eq 'chat.turn.failed', 'an unreachable model: the Codex turn fails within the bound')
    or diag explain($ufail), `tail -20 $dir/engine.log`;
is($ufail->{payload}{reason}, 'model_unreachable', 'reason model_unreachable');
is($ufail->{payload}{url}, "http://127.0.0.1:$closed/v1", 'naming the URL');
like($ufail->{payload}{error} // '', qr/connection refused/i, 'and the error');
like($ufail->{payload}{message} // '', qr/OPENAI_BASE_URL/, 'and what to check');

my $log = do { local (@ARGV, $/) = "$dir/engine.log"; <> } // '';
unlike($log, qr/sk-openai-test|write the greeting/, 'no key and no message text in the engine log');

# the stand-in takes only that key, as OpenAI does: a stale one fails the test
my ($kst, $kj) = $model->ask('/v1/responses', ['Authorization', 'Bearer sk-openai-stale']);
is_deeply([$kst, $kj->{error}{code}], [401, 'invalid_api_key'], 'another key: 401 invalid_api_key');
($kst) = $model->ask('/v1/responses');
is($kst, 401, 'no key: 401');
done_testing();
