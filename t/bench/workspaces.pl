#!/usr/bin/env perl
# ./auto/bench wake | claim | create: how fast real workspaces come up,
# with Redis, the gateway and `replicas-control serve` (local sandboxes,
# needs root) started by the test harness.  Median and p95 of N runs
# (BENCH_RUNS, default 7), each against a baseline measured in the same run.
#
#   wake    sleeping -> first byte of a preview request (the request itself
#           wakes the workspace and is held until it is awake); baseline:
#           the same request to the awake workspace.  Target <= 2 s median.
#   claim   POST /v1/workspaces -> awake with a warm sandbox waiting in the
#           pool (engine already healthy); baseline: the same with the pool
#           off (image built, sandbox started cold).  Target <= 300 ms.
#   create  cold create of a small repository never seen before: clone,
#           warm hook, sandbox, engine, start hook -> awake, and -> the
#           preview's first 200.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);
# the harness's helpers report through Test::More: a plan, so the run
# exits 0 when they all held
use Test::More ();
use Replicas::Test qw(start_redis http_request http_json poll_until tmpdir);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);

my $which = shift // 'all';
my $runs = $ENV{BENCH_RUNS} // 7;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s');
my $me = new_identity($redis);
my $key = $me->{key};
my $d = $gw->{domain};
my $repos = tmpdir() . '/repos';
my $serve = encode_json({ startHook => { commands => [
    'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'] } });
my $nrepo = 0;
sub new_repo {
    $nrepo++;
    return fixture_repo("bench$nrepo", { 'index.html' => "bench $nrepo\n",
                                         'replicas.json' => $serve }, $me->{org});
}

sub control {
    my ($pool) = @_;
    return start_control(redis => $redis, gateway => $gw,
                         args => ['--pool-size', $pool, '--repo-root', $repos,
                                  '--memory', 512]);
}

sub state_of { $redis->cmd('HGET', ws_key($_[0]), 'state') // '' }

# POST -> id, the time it was sent
sub create {
    my ($repo) = @_;
    my $t0 = time;
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
    die "create: $st\n" unless $st == 201;
    return ($j->{id}, $t0);
}

# seconds from $t0 until the workspace is awake (Redis read every 2 ms)
sub until_awake {
    my ($id, $t0) = @_;
    poll_until(120, sub { my $s = state_of($id); $s eq 'awake' || $s eq 'failed' });
    die "workspace $id: " . state_of($id) . "\n" unless state_of($id) eq 'awake';
    return time - $t0;
}

# seconds to the first byte of a preview request, and its status
sub first_byte {
    my ($id, $port) = @_;
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gw->{port},
                                  Proto => 'tcp', Timeout => 5) or die "connect: $!";
    syswrite($s, "GET / HTTP/1.1\r\nHost: $port-$id.$d\r\n"
                 . "Authorization: Bearer $key\r\nConnection: close\r\n\r\n");
    IO::Select->new($s)->can_read(90) or die "no answer\n";
    my $t = time - $t0;
    my $buf = '';
    1 while sysread($s, $buf, 65536, length $buf);
    my ($status) = $buf =~ m{^HTTP/1\.\d (\d+)};
    return ($t, $status // 0);
}

sub until_page {
    my ($id, $t0) = @_;
    poll_until(60, sub { http_request(port => $gw->{port}, host => "3000-$id.$d",
                         headers => [['Authorization', "Bearer $key"]])->{status} == 200 })
        or die "workspace $id: no page\n";
    return time - $t0;
}

sub stats {
    my @v = sort { $a <=> $b } @_;
    my $med = $v[int($#v / 2)];
    my $p95 = $v[int(0.95 * $#v + 0.5)];
    return ($med, $p95);
}

sub report {
    my ($name, $vals, $base, $target) = @_;
    my ($m, $p) = stats(@$vals);
    my $line = sprintf("  %-34s median %7.1f ms  p95 %7.1f ms", $name, $m * 1000, $p * 1000);
    if ($base) {
        my ($bm) = stats(@$base);
        $line .= sprintf("  (%.2fx the baseline)", $bm ? $m / $bm : 0);
    }
    $line .= "  target $target" if $target;
    print "$line\n";
}

sub sleep_ws {
    my ($id) = @_;
    api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
    poll_until(60, sub { state_of($id) eq 'sleeping' }) or die "$id did not sleep\n";
}

if ($which eq 'wake' || $which eq 'all') {
    my $ctl = control(0);
    my ($id, $t0) = create(new_repo());
    until_awake($id, $t0);
    until_page($id, $t0);
    my (@base, @wake, @status);
    for (1 .. $runs) {
        my ($t) = first_byte($id, 3000);
        push @base, $t;
        sleep_ws($id);
        my ($tw, $st) = first_byte($id, 3000);
        push @wake, $tw;
        push @status, $st;
    }
    print "wake ($runs runs; " . scalar(grep { $_ == 200 } @status) . " of $runs answered 200)\n";
    report('awake: first byte (baseline)', \@base);
    report('sleeping -> first proxied byte', \@wake, \@base, '<= 2000 ms');
    $ctl->stop; $ctl->teardown;
}

if ($which eq 'claim' || $which eq 'all') {
    # one worker, a pool of one: creates in pairs, the first claims the
    # warm sandbox, the second (right after) finds the pool empty and
    # starts a sandbox cold from the same image: the baseline.  The log
    # says which path each took.
    my $repo = new_repo();
    my $ctl = control(1);
    my ($first, $t0) = create($repo);
    until_awake($first, $t0);
    my $filled = sub { () = $ctl->log =~ /pool\.fill\b/g };
    my (%took, @claim, @cold);
    for my $n (1 .. $runs) {
        poll_until(60, sub { $filled->() >= $n }) or die "the pool did not fill\n";
        my ($x, $tx) = create($repo);
        my ($y, $ty) = create($repo);
        $took{$x} = until_awake($x, $tx);
        $took{$y} = until_awake($y, $ty);
        api($gw, $key, 'DELETE', "/v1/workspaces/$_") for $x, $y;
    }
    my $log = $ctl->log;
    for my $id (keys %took) {
        if ($log =~ /pool\.claim ws=$id /) { push @claim, $took{$id} }
        elsif ($log =~ /pool\.miss ws=$id /) { push @cold, $took{$id} }
    }
    my @engine = map { $_ / 1000 } $log =~ /pool\.claim .*?\bms=(\d+)/g;
    print "claim ($runs pairs: " . scalar(@claim) . " claimed, " . scalar(@cold) . " cold)\n";
    report('cold sandbox -> awake (baseline)', \@cold) if @cold;
    report('pool claim -> awake (API to state)', \@claim, @cold ? \@cold : undef, '<= 300 ms') if @claim;
    report('pool claim -> engine healthy (log)', \@engine, undef, '<= 300 ms') if @engine;
    $ctl->stop; $ctl->teardown;
}

if ($which eq 'create' || $which eq 'all') {
    my $ctl = control(0);
    my (@awake, @page);
    for (1 .. $runs) {
        my ($id, $t0) = create(new_repo());
        push @awake, until_awake($id, $t0);
        push @page, until_page($id, $t0);
        api($gw, $key, 'DELETE', "/v1/workspaces/$id");
    }
    print "create, a new small repository each time ($runs runs)\n";
    report('POST -> awake', \@awake);
    report('POST -> first 200 of its preview', \@page);
    $ctl->stop; $ctl->teardown;
}

Test::More::done_testing();
