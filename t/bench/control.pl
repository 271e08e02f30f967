#!/usr/bin/env perl
# ./auto/bench control: the job loop at scale, with Redis, the gateway and
# `replicas-control serve` (local sandboxes, needs root) started by the
# test harness.  Prints, never asserts:
#
#   - N workspaces (BENCH_WORKSPACES, default 50) created at once from one
#     repository: seconds until all are awake;
#   - all slept, then N wakes requested at once (a preview request each,
#     held by the gateway through its wake): seconds until all are served
#     (aim <= 1.5 s for 50), and how many answered 200; from a light sleep
#     (frozen, the default), then from a deep one (stopped), and the ratio;
#   - idle CPU with the N awake, over BENCH_IDLE_SECONDS (10) once they
#     settled (BENCH_SETTLE_SECONDS, 65: an engine's first minute scans
#     more): control's, in % of one core (aim < 1 %), and the engines';
#   - memory per idle workspace (its cgroup's, as the worker records it),
#     without a desktop (the N) and with one (BENCH_DESKTOPS, 2, started
#     with --desktop on).
# BENCH_JOBS passes serve --jobs (its default otherwise).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(sysconf);
# the harness's helpers report through Test::More: a plan, so the run
# exits 0 when they all held
use Test::More ();
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis http_request poll_until tmpdir);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);

my $n = $ENV{BENCH_WORKSPACES} // 50;
my $idle = $ENV{BENCH_IDLE_SECONDS} // 10;
my $ndesk = $ENV{BENCH_DESKTOPS} // 2;
# engines scan often in their first minute (a wake waits for its ports)
my $settle = $ENV{BENCH_SETTLE_SECONDS} // 65;
my $hz = sysconf(POSIX::_SC_CLK_TCK()) || 100;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s');
my $me = new_identity($redis);
my $key = $me->{key};
# the quotas (10 awake by default) out of the way
$redis->cmd('HSET', "replicas:org:$me->{org}", 'max_awake', 10000,
            'user_awake_max', 10000);
my $d = $gw->{domain};
my $repos = tmpdir() . '/repos';
my $serve = encode_json({ startHook => { commands => [
    'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'],
    ports => [3000] } });
my $repo = fixture_repo('benchctl', { 'index.html' => "bench\n",
                                      'replicas.json' => $serve }, $me->{org});

sub control {
    my (@more) = @_;
    return start_control(redis => $redis, gateway => $gw,
                         args => ['--pool-size', 0, '--repo-root', $repos,
                                  '--memory', 512, '--idle-sleep', 100000,
                                  # the default, which the tests' harness changes
                                  '--deep-sleep-after', 1800,
                                  ($ENV{BENCH_JOBS} ? ('--jobs', $ENV{BENCH_JOBS}) : ()),
                                  @more]);
}

sub state_of { $redis->cmd('HGET', ws_key($_[0]), 'state') // '' }

sub create_all {
    my ($count) = @_;
    my $t0 = time;
    my @ids;
    for (1 .. $count) {
        my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
        die "create: $st\n" unless $st == 201;
        push @ids, $j->{id};
    }
    poll_until(600, sub { !grep { state_of($_) ne 'awake' && state_of($_) ne 'failed' } @ids });
    my @bad = grep { state_of($_) ne 'awake' } @ids;
    die scalar(@bad) . " workspaces not awake\n" if @bad;
    return (time - $t0, @ids);
}

# utime + stime of processes, in clock ticks
sub ticks {
    my ($match) = @_;
    my $t = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open(my $f, '<', $stat) or next;
        my $line = <$f> // next;
        my ($pid, $comm, $rest) = $line =~ /^(\d+) \((.*)\) (.*)$/ or next;
        next unless $match->($pid, $comm);
        my @f = split / /, $rest;
        $t += $f[11] + $f[12];
    }
    return $t;
}

sub mem_of {
    my (@ids) = @_;
    # the worker writes usage every 5 s
    sleep 6;
    my @m = grep { $_ } map { $redis->cmd('HGET', ws_key($_), 'usage_memory') } @ids;
    return 0 unless @m;
    my $sum = 0;
    $sum += $_ for @m;
    return $sum / @m / 1048576;
}

my $ctl = control();
my ($tc, @ids) = create_all($n);
printf "control, %d workspaces, serve --jobs %s\n", $n, $ENV{BENCH_JOBS} // 'default';
printf "  %-44s %7.2f s\n", "$n creates requested at once -> all awake", $tc;

# idle: nothing asked for $idle seconds
sleep $settle;
my $cpid = $ctl->pid;
my $c0 = ticks(sub { $_[0] == $cpid });
my $e0 = ticks(sub { $_[1] eq 'replicas-engine' });
my $t0 = time;
sleep $idle;
my $dt = time - $t0;
my $c1 = ticks(sub { $_[0] == $cpid });
my $e1 = ticks(sub { $_[1] eq 'replicas-engine' });
printf "  %-44s %7.2f %% of a core (aim < 1 %%)\n", "control idle CPU, $n awake",
    100 * ($c1 - $c0) / $hz / $dt;
printf "  %-44s %7.2f %% of a core (%.3f %% each)\n", "engines' idle CPU, together",
    100 * ($e1 - $e0) / $hz / $dt, 100 * ($e1 - $e0) / $hz / $dt / $n;
printf "  %-44s %7.1f MiB\n", "memory per idle workspace, no desktop", mem_of(@ids);

# all asleep, then every wake at once through the gateway: from a light
# sleep (frozen, the default), then from a deep one (stopped: the
# deep-sleep job --deep-sleep-after would run, asked for at once)
sub sleep_all {
    my ($deep) = @_;
    api($gw, $key, 'POST', "/v1/workspaces/$_/sleep") for @ids;
    poll_until(300, sub { !grep { state_of($_) ne 'sleeping' } @ids })
        or die "not all slept\n";
    return unless $deep;
    $redis->cmd('XADD', 'replicas:jobs', '*', 'type', 'deep-sleep', 'workspace', $_,
                'at', int(time)) for @ids;
    poll_until(300, sub { !grep { ($redis->cmd('HGET', ws_key($_), 'sleep') // '') ne 'stopped' } @ids })
        or die "not all in deep sleep\n";
}

sub wake_all {
    my ($label) = @_;
    my (%sock, %done, %status, %buf);
    my $logged = length $ctl->log;
    my $t0 = time;
    for my $id (@ids) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gw->{port},
                                      Proto => 'tcp', Timeout => 5) or die "connect: $!";
        syswrite($s, "GET / HTTP/1.1\r\nHost: 3000-$id.$d\r\n"
                     . "Authorization: Bearer $key\r\nConnection: close\r\n\r\n");
        $sock{$id} = $s;
    }
    my $sel = IO::Select->new(values %sock);
    my %of = map { (fileno($sock{$_}) => $_) } @ids;
    while ($sel->count && time - $t0 < 120) {
        for my $s ($sel->can_read(1)) {
            my $id = $of{fileno $s};
            my $got = sysread($s, $buf{$id}, 65536, length($buf{$id} // ''));
            next if $got;
            $done{$id} = time - $t0;
            ($status{$id}) = ($buf{$id} // '') =~ m{^HTTP/1\.\d (\d+)};
            $sel->remove($s);
            close $s;
        }
    }
    my @t = sort { $a <=> $b } values %done;
    my @jobs = sort { $a <=> $b } substr($ctl->log, $logged) =~ /job\.done .*?type=wake .*?ms=(\d+)/g;
    printf "  %-44s %7.2f s (aim <= 1.5 s for 50; %d of %d answered 200, median %.2f s)\n",
        "$n wakes at once, $label -> all served", $t[-1] // 0,
        scalar(grep { ($_ // 0) == 200 } values %status), $n, $t[int($#t / 2)] // 0;
    printf "  %-44s %7.2f s median, %.2f s the longest\n", "  a wake job (control's log)",
        ($jobs[int($#jobs / 2)] // 0) / 1000, ($jobs[-1] // 0) / 1000;
    return $t[-1] // 0;
}

sleep_all(0);
my $light = wake_all('light sleep');
sleep_all(1);
my $deep = wake_all('deep sleep');
printf "  %-44s %7.2f\n", "light ÷ deep (all served)", $deep ? $light / $deep : 0;

$ctl->stop; $ctl->teardown;

if ($ndesk) {
    my $dctl = control('--desktop', 'on');
    my ($td, @dids) = create_all($ndesk);
    sleep 5;    # the desktop's programs settle
    printf "  %-44s %7.1f MiB (%d workspaces)\n", "memory per idle workspace, with desktop",
        mem_of(@dids), $ndesk;
    $dctl->stop; $dctl->teardown;
}

Test::More::done_testing();
