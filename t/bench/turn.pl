#!/usr/bin/env perl
# ./auto/bench turn: what the engine adds to an agent's turn.  The real
# Claude Code CLI (objs/agents) answers a scripted local Messages-API
# server (t/lib/Replicas/ModelServer.pm) with one tool use and a text.
#
#   baseline  the CLI run directly, the way the engine runs it (stream-json
#             in and out, the session resumed after the first run): spawn
#             -> exit
#   engine    POST /messages to replicas-engine on loopback -> the
#             chat.turn.completed event (the turn's process, its events,
#             the session kept), measured from the engine's own event
#             times and from the client; also POST -> chat.turn.started
#             (the queue and the process start)
#
# Median and p95 of BENCH_RUNS (default 7) each; the ratio engine/baseline
# is the engine's overhead on a turn.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use POSIX qw(floor);
use Time::HiRes qw(time sleep);
# the harness's helpers report through Test::More: a plan, so the run
# exits 0 when they all held
use Test::More ();
use Time::Local qw(timegm);
use Replicas::Test qw(objs_dir tmpdir poll_until);
use Replicas::Engine;
use Replicas::ModelServer qw(start_model_server);

my $runs = $ENV{BENCH_RUNS} // 7;
my $claude = objs_dir() . '/agents/node_modules/.bin/claude';
-x $claude or die "Claude Code is not installed: run ./auto/bench (auto/lib.sh)\n";

my $dir = tmpdir();
mkdir "$dir/work";
mkdir "$dir/work/app";
mkdir "$dir/direct";
mkdir "$dir/direct/home";

my $model = start_model_server(key => 'sk-ant-bench-not-real', scripts => [
    { match => qr/bench turn/, steps => [
        { tool => 'Bash', input => { command => 'echo bench >> bench.txt',
                                     description => 'append a line' } },
        { text => 'Appended.' } ] },
]);
my %env = (ANTHROPIC_BASE_URL => $model->url, ANTHROPIC_API_KEY => 'sk-ant-bench-not-real');

sub stats {
    my @v = sort { $a <=> $b } @_;
    return (median => $v[floor($#v / 2)], p95 => $v[floor(0.95 * $#v + 0.5)]);
}

# --- baseline: the CLI on its own -------------------------------------------------------
my (@direct, $session);
for my $i (1 .. $runs) {
    my $input = encode_json({ type => 'user', message => { role => 'user',
                                                           content => "bench turn $i" } });
    open my $fh, '>', "$dir/direct/in.json" or die;
    print $fh "$input\n";
    close $fh;
    my @argv = ($claude, '-p', '--input-format', 'stream-json', '--output-format',
                'stream-json', '--verbose', '--dangerously-skip-permissions',
                $session ? ('--resume', $session) : ());
    my $t0 = time;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        chdir "$dir/work/app" or die;
        open STDIN, '<', "$dir/direct/in.json";
        open STDOUT, '>', "$dir/direct/out.jsonl";
        open STDERR, '>', "$dir/direct/err.txt";
        %ENV = (%env, PATH => $ENV{PATH}, HOME => "$dir/direct/home", IS_SANDBOX => 1,
                CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC => 1);
        exec @argv or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    push @direct, (time - $t0) * 1000;
    open my $out, '<', "$dir/direct/out.jsonl" or die;
    while (<$out>) {
        my $j = eval { decode_json($_) } or next;
        $session = $j->{session_id} if ($j->{type} // '') eq 'result';
    }
    die "the CLI gave no result: see $dir/direct/err.txt\n" unless $session;
}

# --- the engine: POST /messages -> chat.turn.completed ----------------------------------
sub ts_ms {
    my ($ts) = @_;
    my ($y, $mo, $d, $h, $mi, $s, $ms) = $ts =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/
        or die "ts $ts";
    return timegm($s, $mi, $h, $d, $mo - 1, $y) * 1000 + $ms;
}

my $engine = Replicas::Engine->new(dir => $dir, work => "$dir/work", state => "$dir/state",
                                   workspace => 'benchws');
$engine->api('POST', '/start', { env => \%env, startHook => undef, cwd => "$dir/work/app" });
my (@client, @inside, @started);
for my $i (1 .. $runs) {
    my $t0 = time;
    my ($st) = $engine->api('POST', '/messages', { seq => $i, text => "bench turn $i",
                                                   user => 'bench', at => int(time) });
    $st == 202 or die "POST /messages: $st\n";
    my ($done, $acc, $start);
    poll_until(120, sub {
        for my $e (@{ $engine->events }) {
            next unless ($e->{payload}{seq} // 0) == $i;
            $acc = $e if $e->{type} =~ /^chat\.turn\.(accepted|queued)$/;
            $start = $e if $e->{type} eq 'chat.turn.started';
            $done = $e if $e->{type} eq 'chat.turn.completed';
        }
        $done }) or die "turn $i did not complete\n";
    push @client, (time - $t0) * 1000;
    push @inside, ts_ms($done->{ts}) - ts_ms($acc->{ts});
    push @started, ts_ms($start->{ts}) - ts_ms($acc->{ts});
    $engine->wait_idle;
}

my %d = stats(@direct);
my %c = stats(@client);
my %n = stats(@inside);
my %s = stats(@started);
printf "turn (Claude Code, one tool, scripted model), %d runs each:\n", $runs;
printf "  baseline: the CLI alone          median %6.0f ms  p95 %6.0f ms\n", @d{qw(median p95)};
printf "  engine: accepted -> completed    median %6.0f ms  p95 %6.0f ms  (%.2fx baseline)\n",
       @n{qw(median p95)}, $n{median} / $d{median};
printf "  engine: POST -> completed seen   median %6.0f ms  p95 %6.0f ms  (%.2fx baseline)\n",
       @c{qw(median p95)}, $c{median} / $d{median};
printf "  engine: accepted -> CLI started  median %6.0f ms  p95 %6.0f ms\n", @s{qw(median p95)};

Test::More::done_testing();
