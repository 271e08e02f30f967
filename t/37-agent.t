# The engine runs a real coding agent: Claude Code from npm (installed by
# auto/ into objs/agents), pointed at a local server that speaks the
# Messages API (t/lib/Replicas/ModelServer.pm) through ANTHROPIC_BASE_URL
# from the workspace's environment.  The script makes the agent write a
# file and run a command; the events show the turn, its tools and its
# outcome; a message sent mid-turn is queued and runs after; after an
# engine restart (a wake) the next message resumes the same session; an
# interrupt stops a turn; no model key is a clear failure.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir tmpdir poll_until free_port);
use IO::Socket::INET;
use Replicas::Engine;
use Replicas::ModelServer qw(start_model_server);

my $agents = objs_dir() . '/agents';
ok(-x "$agents/node_modules/.bin/claude", 'Claude Code is installed from npm')
    or BAIL_OUT("run ./auto/test (auto/lib.sh rp_install_agents)");

my $dir = tmpdir();
my ($state, $work) = ("$dir/state", "$dir/work");
mkdir $work;
mkdir "$work/app";

my $model = start_model_server(key => 'sk-ant-test-not-real', scripts => [
    # first: Claude Code tells the model of a finished background task in a
    # message of its own (it names the task, which other scripts could match)
    { match => qr/<task-notification>/, steps => [ { text => 'The build in the background finished.' } ] },
    { match => qr/write the greeting/, steps => [
        { tool => 'Write', input => { file_path => "$work/app/hello.txt",
                                      content => "hello from the agent\n" } },
        # slow enough for a second message to arrive mid-turn
        { tool => 'Bash', input => { command => 'cat hello.txt > copy.txt',
                                     description => 'copy the greeting' }, delay => 2 },
        { text => 'Wrote the greeting and copied it.' } ] },
    { match => qr/second task/, steps => [ { text => 'The second task is done.' } ] },
    { match => qr/after the wake/, steps => [ { text => 'Still the same conversation.' } ] },
    { match => qr/take your time/, steps => [ { text => 'Finally.', delay => 60 } ] },
    { match => qr/after the interrupt/, steps => [ { text => 'Back to work.' } ] },
    { match => qr/CI failed/, steps => [ { text => 'Looked at every failure.' } ] },
    { match => qr/person in between/, steps => [ { text => 'Noted.' } ] },
    { match => qr/long output/, steps => [
        { tool => 'Bash', input => { command => 'printf x; printf "\\303\\251%.0s" $(seq 3000)',
                                     description => 'six thousand bytes of e-acute' } },
        { text => 'That was long.' } ] },
    { match => qr/think for a while/, steps => [ { text => 'Thought it through.', delay => 22 } ] },
    { match => qr/build in the background/, steps => [
        { tool => 'Bash', input => { command => 'sleep 1; echo built > built.txt',
                                     description => 'the build', run_in_background => JSON::PP::true } },
        { text => 'The build runs in the background.' } ] },
]);

my $engine = Replicas::Engine->new(dir => $dir, work => $work, state => $state,
                                   workspace => 'agentws');
sub api { $engine->api(@_) }
sub events { $engine->events }
sub of_type { $engine->of_type(@_) }
sub wait_event { $engine->wait_event(@_) }
my $seq = 0;
sub send_msg {
    my ($text, $chat, $kind) = @_;
    my ($st, $j) = api('POST', '/messages', { seq => ++$seq, text => $text, chat => $chat,
                                              user => 'ada', at => time,
                                              defined $kind ? (kind => $kind) : () });
    return ($st, $j, $seq);
}
my %env = (ANTHROPIC_BASE_URL => $model->url, ANTHROPIC_API_KEY => 'sk-ant-test-not-real');

# --- no model key: a clear failure, nothing run -----------------------------------------
api('POST', '/start', { env => {}, startHook => undef, cwd => "$work/app" });
my (undef, undef, $s0) = send_msg('hello?');
my $failed = wait_event('chat.turn.failed', seq => $s0);
is($failed->{payload}{reason}, 'no_model_key', 'without a model key the turn fails saying so');
like($failed->{payload}{message}, qr/ANTHROPIC_API_KEY/, 'and what to set');
is(scalar @{ $model->turns }, 0, 'no request reached the model');

# --- a turn with tools, and a second message queued behind it ---------------------------
api('POST', '/start', { env => \%env, startHook => undef, cwd => "$work/app",
                        systemPrompt => 'Prefer small commits in this repository.' });
my ($st, $j, $s1) = send_msg('Please write the greeting');
is($st, 202, 'a message');
is($j->{status}, 'sent', 'the agent starts on it at once');
my $started = wait_event('chat.turn.started', seq => $s1);
ok($started, 'chat.turn.started');
ok(poll_until(30, sub { api('GET', '/healthz'); (api('GET', '/healthz'))[1]{busy} }), 'busy while it works');
ok(wait_event('tool.use', seq => $s1, tool => 'Write'), 'the agent used Write');
my ($st2, $j2, $s2) = send_msg('Now the second task');
is($j2->{status}, 'queued', 'a message mid-turn is queued');
is($j2->{position}, 1, 'behind the running turn');

my $done1 = wait_event('chat.turn.completed', seq => $s1);
ok($done1, 'the first turn completed') or diag `tail -20 $dir/engine.log`;
is($done1->{payload}{result}, 'Wrote the greeting and copied it.', 'with the agent\'s answer');
ok($done1->{payload}{cost_usd} > 0, 'its cost');
ok($done1->{payload}{usage}{output_tokens} > 0, 'and tokens');
my $session = $done1->{payload}{session_id};
like($session, qr/^[0-9a-f-]{36}$/, "and the agent's session ($session)");
ok(of_type('tool.use', seq => $s1, tool => 'Bash')->[0], 'it ran Bash');
my ($bash_result) = grep { !$_->{payload}{is_error} } @{ of_type('tool.result', seq => $s1) };
ok($bash_result, 'tool results are events');
is(do { local (@ARGV, $/) = "$work/app/hello.txt"; <> }, "hello from the agent\n", 'the file is written');
is(do { local (@ARGV, $/) = "$work/app/copy.txt"; <> }, "hello from the agent\n", 'the command ran');

# what the agent is told: the workspace's ways, then the repository's prompt
my $system = encode_json($model->turns->[0]{body}{system} // '');
like($system, qr/replicas preview create <port>/, "the agent learns how to publish previews");
like($system, qr/in the background/, 'and to run servers in the background');
like($system, qr/Prefer small commits in this repository/, "and gets replicas.json's systemPrompt");
my $skill = do { local (@ARGV, $/) = "$dir/home/.claude/skills/replicas/SKILL.md"; <> } // '';
like($skill, qr/^---\nname: replicas-workspace\ndescription: /, 'and has them as a skill in its home');
like($skill, qr/replicas preview create <port>/, 'the same instructions');

my $done2 = wait_event('chat.turn.completed', seq => $s2);
ok($done2, 'then the queued message ran');
is($done2->{payload}{session_id}, $session, 'in the same session');
my @order = map { "$_->{type}:$_->{payload}{seq}" }
            grep { $_->{type} =~ /^chat\.turn\.(started|completed)$/ } @{ events() };
is_deeply(\@order, ["chat.turn.started:$s1", "chat.turn.completed:$s1",
                    "chat.turn.started:$s2", "chat.turn.completed:$s2"], 'one after the other');

# --- the engine restarted (a wake): the next message resumes the session ---------------
$engine->restart;
api('POST', '/start', { env => \%env, startHook => undef, cwd => "$work/app" });
my (undef, undef, $s3) = send_msg('Is this after the wake?');
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

# messages of one kind that arrive while the agent is busy fold into one turn
my (undef, $f1, $k1) = send_msg('CI failed: lint (job 1)', undef, 'ci_failure');
is($f1->{status}, 'queued', 'the first CI failure is queued');
is($f1->{position}, 2, 'behind the running turn and the waiting message');
ok(!exists $f1->{folded}, 'it starts a turn of its own');
my (undef, undef, $p1) = send_msg('a person in between');
my ($fst, $f2, $k2) = send_msg('CI failed: unit tests (job 2)', undef, 'ci_failure');
is($fst, 202, 'a second CI failure');
is_deeply($f2->{folded}, { into => $k1, count => 2 }, 'folds into the waiting one, which holds 2');
is($f2->{position}, 2, 'and keeps its place in the queue');
my (undef, $f3) = send_msg('CI failed: e2e (job 3)', undef, 'ci_failure');
is($f3->{folded}{count}, 3, 'a third one: 3');
my (undef, $f4, $o1) = send_msg('CI failed in another chat', 'ci', 'ci_failure');
ok(!exists $f4->{folded}, 'another chat folds apart');
my $fold_ev = of_type('chat.turn.folded', seq => $k2)->[0];
is($fold_ev->{payload}{into}, $k1, 'chat.turn.folded says which turn it joined');
is($fold_ev->{payload}{kind}, 'ci_failure', 'and the kind');
my (undef, $qchats) = api('GET', '/chats');
my ($qdefault) = grep { $_->{name} eq 'default' } @{ $qchats->{chats} };
is($qdefault->{queued}, 3, 'three turns wait, not five');

($st, $j) = api('POST', '/chats/default/interrupt');
is($st, 202, 'interrupt');
ok($j->{interrupted}, 'a turn was running');
ok(wait_event('chat.turn.interrupted', seq => $s4), 'the turn is interrupted');
ok(wait_event('chat.turn.completed', seq => $s5), 'and the queue goes on');
my $folded_done = wait_event('chat.turn.completed', seq => $k1);
ok($folded_done, 'the folded turn ran');
is($folded_done->{payload}{result}, 'Looked at every failure.', 'with its answer');
is(of_type('chat.turn.started', seq => $k1)->[0]{payload}{messages}, 3,
   'chat.turn.started says it holds 3 messages');
my ($folded_turn) = grep { encode_json($_->{body}{messages}[-1]) =~ /job 1/ } @{ $model->turns };
my $asked = encode_json($folded_turn->{body}{messages}[-1]);
like($asked, qr/3 messages of the kind \\"ci_failure\\"/, 'the agent is told how many');
like($asked, qr/job 1.*job 2.*job 3/s, 'and sees all three, in order');
ok(wait_event('chat.turn.completed', seq => $p1), 'the message in between ran on its own');
ok(!of_type('chat.turn.started', seq => $k2)->[0], 'no turn of its own for a folded message');
ok(wait_event('chat.turn.completed', seq => $o1), "the other chat's turn ran too");
is((api('DELETE', '/chats/ci'))[0], 200, 'and that chat goes');

# --- chats ------------------------------------------------------------------------------
($st) = api('POST', '/chats', { name => 'review' });
is($st, 201, 'a second chat');
($st, $j) = api('GET', '/chats');
is_deeply([ sort map { $_->{name} } @{ $j->{chats} } ], [qw(default review)], 'both listed');
($st, $j) = api('POST', '/chats', { name => 'Bad Name' });
is($st, 400, 'a bad chat name: 400');
($st, $j) = api('POST', '/chats', { name => 'x', agent => 'eliza' });
is($st, 400, 'an unknown agent: 400');
($st) = api('DELETE', '/chats/review');
is($st, 200, 'deleted');
($st) = api('DELETE', '/chats/review');
is($st, 404, 'then gone');
ok((api('GET', '/healthz'))[0] == 200, 'the engine is fine');

# --- a tool's output over 4 KiB, odd bytes of two-byte characters: cut on a character --
my (undef, undef, $l1) = send_msg('Print a long output');
ok(wait_event('chat.turn.completed', seq => $l1), 'a turn with a long tool output');
my ($long) = grep { !$_->{payload}{is_error} } @{ of_type('tool.result', seq => $l1) };
my $out = $long->{payload}{output} // '';
# the harness decodes events as bytes (JSON::PP without utf8): é is "\xc3\xa9"
ok(length($out) > 2000, 'its output is in the event (' . length($out) . ' bytes)');
ok(length($out) <= 4096, 'at most 4 KiB');
like($out, qr/\Ax(?:\xc3\xa9)+\z/, 'cut between characters, never inside one');

# --- background tasks: the agent's own (a shell run in the background) ------------------
my (undef, undef, $b1) = send_msg('Run the build in the background');
my $task = wait_event('task.started', seq => $b1);
ok($task, 'task.started');
is($task->{payload}{kind}, 'shell', 'a shell');
is($task->{payload}{description}, 'the build', 'with its description');
ok($task->{payload}{background}, 'in the background');
my $task_done = wait_event('task.completed', seq => $b1);
ok($task_done, 'task.completed');
is($task_done->{payload}{task_id}, $task->{payload}{task_id}, 'for the same task');
my $bdone = wait_event('chat.turn.completed', seq => $b1);
ok($bdone, 'the turn completed');
is($bdone->{payload}{result}, 'The build in the background finished.',
   "its answer is the agent's last, after the task's notification");
is(do { local (@ARGV, $/) = "$work/app/built.txt"; <> }, "built\n", 'the background command ran');

# --- a model that is slow but there: the watchdog looks, finds it, and waits -----------
my $heads = sub { scalar grep { $_->{method} eq 'HEAD' } @{ $model->requests } };
my $heads_before = $heads->();
my (undef, undef, $w1) = send_msg('think for a while', 'slow');
my $wdone = wait_event('chat.turn.completed', seq => $w1);
ok($wdone, 'a quiet turn with a slow model completes') or diag `tail -5 $dir/engine.log`;
is($wdone->{payload}{result}, 'Thought it through.', 'with its answer');
ok($heads->() > $heads_before, 'the engine asked whether the model answers (a HEAD) while it was quiet');
is(scalar @{ of_type('agent.error', seq => $w1) }, 0, 'and found nothing wrong');

# --- a model that cannot be reached: the turn fails, saying what and why, within a bound --
# nothing listens on the first port; the second accepts (the kernel's backlog)
# and never answers
my $closed = free_port();
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                   Listen => 128, ReuseAddr => 1) or die "listen: $!";
for my $case (["http://127.0.0.1:$closed", 'nothing listening', qr/connection refused/i, 'refused'],
              ['http://127.0.0.1:' . $silent->sockport, 'a port that never answers',
               qr/timed out/i, 'silent']) {
    my ($url, $what, $error, $chat) = @$case;
    api('POST', '/start', { env => { %env, ANTHROPIC_BASE_URL => $url }, startHook => undef,
                            cwd => "$work/app" });
    my (undef, undef, $u) = send_msg('Please write the greeting', $chat);
    my $sent = time;
    ok(wait_event('chat.turn.started', seq => $u), "$what: the turn starts");
    my $fail;
    poll_until(75, sub { $fail = of_type('chat.turn.failed', seq => $u)->[0]
                         // of_type('chat.turn.completed', seq => $u)->[0] });
    ok($fail && $fail->{type} eq 'chat.turn.failed', "$what: the turn fails within the bound")
        or diag explain($fail), `tail -20 $dir/engine.log`;
    diag(sprintf '%s: failed after %d s', $what, time - $sent) if $fail;
    is($fail->{payload}{reason}, 'model_unreachable', "$what: reason model_unreachable");
    is($fail->{payload}{url}, $url, "$what: naming the URL");
    like($fail->{payload}{error}, $error, "$what: and the error ($fail->{payload}{error})");
    like($fail->{payload}{message}, qr/\Q$url\E.*ANTHROPIC_BASE_URL/s, "$what: the message says what to check");
    my ($warn) = grep { defined $_->{payload}{url} } @{ of_type('agent.error', seq => $u) };
    ok($warn, "$what: an agent.error said so as it happened");
    like($warn->{payload}{message} // '', qr/cannot be reached/, "$what: the model cannot be reached");
    my (undef, $cl) = api('GET', '/chats');
    my ($c) = grep { $_->{name} eq $chat } @{ $cl->{chats} };
    is($c->{state}, 'idle', "$what: the chat is idle again");
    ok(!of_type('chat.turn.completed', seq => $u)->[0], "$what: no completed turn, no commit");
}
ok(scalar(grep { ($_->{payload}{agent} // '') eq 'claude' && ($_->{payload}{message} // '') =~ /retry \d+ of \d+/ }
          @{ events() }), "Claude Code's own retries are agent.error events too");
close $silent;
api('POST', '/start', { env => \%env, startHook => undef, cwd => "$work/app" });
my (undef, undef, $back) = send_msg('Now the second task', 'back');
my $bk = wait_event('chat.turn.completed', seq => $back);
ok($bk && !$bk->{payload}{is_error}, 'with the model back, turns work again');

unlike(do { local (@ARGV, $/) = "$dir/engine.log"; <> } // '', qr/sk-ant-test|write the greeting/,
       'no key and no message text in the engine log');

done_testing();
