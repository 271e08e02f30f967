# The dashboard's Stats (GET /v1/stats, lua/api.lua's "stats"; the Stats
# page, src/stats.js): workspaces started per UTC day (counted by the
# create), the people who sent a message in the last 5 minutes (not an
# automation's), and control's pull request poller (control/rc_pulls.c)
# against the GitHub stand-in speaking GitHub's wire protocol: a merged
# pull request marks its workspace and the merged counter of the day it
# started, a closed one is never asked again, a rate limit's reset and a
# Retry-After are waited for (no request before), at most
# --pulls-per-minute requests a minute.  Then a real workspace whose agent
# (Claude Code against the model stand-in) runs turns: its branch and then
# a pull request in its record and on the org stream while it is awake
# (control's watch keeps "git" from /healthz, on change only), the poller
# asking about that pull request; agents working now while one runs, its
# tokens and cost counted once, also across an engine restart.  Last, the page in Chromium (and on a phone), screenshots in
# $REPLICAS_SHOTS.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis tmpdir poll_until objs_dir repo_root free_port);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity api control login_link);
use Replicas::Control qw(start_control fixture_repo engine_pid);
use Replicas::GitHubServer;
use Replicas::EventStream;
use Replicas::ModelServer qw(start_model_server);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', dashboard => 1);
my $host = "$gw->{domain}:$gw->{port}";
my $ada = new_identity($redis, email => 'ada@example.com');          # admin
my $eve = new_identity($redis, email => 'eve@example.com');          # another org

sub member {
    my ($org, $email) = @_;
    my ($rc, $user) = control($redis, 'user', 'create', '--org', $org, '--email', $email);
    chomp $user;
    my (undef, $key) = control($redis, 'key', 'create', '--user', $user);
    chomp $key;
    return { org => $org, user => $user, key => $key };
}
my $bob = member($ada->{org}, 'bob@example.com');
my $ci = member($ada->{org}, 'ci@example.com');

sub day { strftime('%Y-%m-%d', gmtime($_[0])) }
sub stats {
    my ($who, $q) = @_;
    my ($st, $j) = api($gw, $who->{key}, 'GET', '/v1/stats' . ($q // ''));
    return wantarray ? ($st, $j) : $j;
}
sub day_of { my ($s, $d) = @_; (grep { $_->{day} eq $d } @{ $s->{days} })[0] // {} }

# --- the API: who may ask, the range -------------------------------------------------
my ($st, $j) = stats($ada);
is($st, 200, 'GET /v1/stats: 200') or diag explain $j;
is(scalar @{ $j->{days} }, 14, '14 days by default');
is($j->{to}, day(time), 'the last one today (UTC)');
is($j->{from}, day(time - 13 * 86400), 'the first 13 days before');
is_deeply([map { $_->{started} } @{ $j->{days} }], [(0) x 14], 'nothing yet');
is($j->{merged_share}{of_with_pr}, undef, 'no share without a pull request (null)');
is($j->{prompting}{count}, 0, 'no one prompting');
is_deeply($j->{prompting}{users}, [], 'an empty list');
is($j->{working}{count}, 0, 'no agent working');
is(scalar @{ stats($ada, '?days=90')->{days} }, 90, '?days=90: 90 days');
is(scalar @{ stats($ada, '?days=1')->{days} }, 1, '?days=1: today');
for my $bad ('0', '91', 'abc', '1.5', '', '007', '-3') {
    my ($s, $e) = stats($ada, "?days=$bad");
    is($s, 400, "?days=$bad: 400");
    is($e->{error}{message}, '"days" must be an integer from 1 to 90', 'said why')
        or diag explain $e;
}
($st) = api($gw, $ada->{key}, 'POST', '/v1/stats', {});
is($st, 405, 'POST /v1/stats: 405');
($st) = api($gw, undef, 'GET', '/v1/stats');
is($st, 401, 'no key: 401');
is((stats($bob))[0], 200, 'a member may read them');
my (undef, $scoped) = control($redis, 'key', 'create', '--user', $ada->{user}, '--workspace', 'w1');
chomp $scoped;
($st, $j) = api($gw, $scoped, 'GET', '/v1/stats');
is($st, 403, 'a workspace-scoped key (an engine\'s) may not');

# --- started per day, prompters ------------------------------------------------------
my $repo = 'https://github.com/acme/app';
my @made;
for my $who ($ada, $ada, $bob) {
    my ($s, $w) = api($gw, $who->{key}, 'POST', '/v1/workspaces',
                      { repository => $repo, ($who == $ada ? (message => 'hello') : ()) });
    is($s, 201, 'a workspace created') or diag explain $w;
    push @made, $w->{id};
}
($st) = api($gw, $bob->{key}, 'POST', "/v1/workspaces/$made[2]/messages", { text => 'go on' });
is($st, 202, 'bob prompts his workspace');
# an automation's message (a kind) is no person prompting
my ($cs, $cw) = api($gw, $ci->{key}, 'POST', '/v1/workspaces', { repository => $repo });
push @made, $cw->{id};
($st) = api($gw, $ci->{key}, 'POST', "/v1/workspaces/$cw->{id}/messages",
            { text => 'CI failed', kind => 'ci_failure' });
is($st, 202, 'ci sends an automation\'s message');
# a day before, and someone who prompted 6 minutes ago
$redis->cmd('HSET', "replicas:stats:$ada->{org}:" . day(time - 86400), 'started', 5);
$redis->cmd('ZADD', "replicas:stats-prompters:$ada->{org}", int(time) - 360, 'carol');

$j = stats($ada);
is(day_of($j, day(time))->{started}, 4, 'today: the four workspaces started');
is(day_of($j, day(time - 86400))->{started}, 5, 'yesterday: as counted then');
is($j->{totals}{started}, 9, 'the range\'s total');
is($j->{prompting}{count}, 2, 'two people prompting in the last 5 minutes');
is_deeply([sort map { $_->{email} } @{ $j->{prompting}{users} }],
          ['ada@example.com', 'bob@example.com'],
          'ada (her first message) and bob; not ci\'s automation, not carol (6 minutes ago)');
is(stats($eve)->{totals}{started}, 0, 'another organisation sees none of it');
is(stats($eve)->{prompting}{count}, 0, 'nor its people');
my $ttl = $redis->cmd('TTL', "replicas:stats:$ada->{org}:" . day(time));
ok($ttl > 90 * 86400 && $ttl <= 100 * 86400, 'a day\'s counters are kept 100 days');
# what control would do with them: gone, so the poller's part starts clean
$redis->cmd('DEL', "replicas:ws:$_") for @made;
$redis->cmd('DEL', "replicas:org-ws:$ada->{org}", "replicas:org-awake:$ada->{org}");

# --- the pull request poller ---------------------------------------------------------
# the create jobs above are no one's now
$redis->cmd('DEL', 'replicas:jobs');

# control, with the GitHub stand-in as its API and a budget of 60 a minute
# (more than the one open pull request asked every second); the model
# stand-in for the real workspace below
my $token = 'ghp_stats_test_token_not_real';
my $gh = Replicas::GitHubServer->start(token => $token);
my $mport = free_port();
my $model = start_model_server(addr => '0.0.0.0', port => $mport, key => 'sk-ant-test-not-real',
    scripts => [
        { match => qr/first task/, steps => [ { text => 'The first task is done.' } ] },
        { match => qr/slow task/, steps => [ { text => 'The slow task is done.', delay => 8 } ] },
    ]);
my $per_minute = 60;
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--github-api-url', $gh->url, '--pulls-per-minute', $per_minute,
                                 '--pulls-every', 1, '--pool-size', 0, '--allow-port', $mport,
                                 '--repo-root', tmpdir() . '/repos']);
ok(poll_until(10, sub { $ctl->log =~ /pulls\.start api=\Q@{[ $gh->url ]}\E per_minute=$per_minute every=1/ }),
   'the poller starts, with its bounds') or diag $ctl->log;
(my $bridge = $ctl->{range}) =~ s{\.0/\d+$}{.1};
($st) = api($gw, $ada->{key}, 'PUT', '/v1/environments/global',
            { variables => { REPLICAS_GIT_TOKEN => $token, ANTHROPIC_API_KEY => 'sk-ant-test-not-real',
                             ANTHROPIC_BASE_URL => "http://$bridge:$mport" } });
is($st, 200, 'the GitHub token (and the model\'s key) in the Global environment');
my %pr = map { $_ => $gh->add_pull('acme/app', "replicas/$_") } qw(merged closed open);
$gh->merge_pull($pr{merged});
$gh->close_pull($pr{closed});
my $started = int(time) - 86400;     # the workspaces started yesterday
sub ws_put {
    my ($id, %f) = @_;
    put_workspace($redis, $id, org => $ada->{org}, user => $ada->{user}, name => $id,
                  repository => $repo, agent => 'claude', created => $started,
                  state => 'sleeping', state_at => time, environment => '', %f);
    $redis->cmd('SADD', "replicas:org-ws:$ada->{org}", $id);
}
sub git_with { encode_json([{ name => 'app', branch => "replicas/$_[0]",
                              ($_[1] ? (pullRequest => { url => "https://github.com/acme/app/pull/$_[1]",
                                                         number => $_[1] }) : ()) }]) }
ws_put("ws$_", git => git_with($_, $pr{$_})) for qw(merged closed open);
ws_put('wsnopr', git => git_with('nopr'));
# a pull request of a repository that is not the workspace's (its git
# state is the workspace's word): merged, but neither asked nor counted
my $foreign = $gh->add_pull('other/lib', 'replicas/foreign');
$gh->merge_pull($foreign);
ws_put('wsforeign', git => encode_json([{ name => 'app', branch => 'replicas/foreign',
    pullRequest => { url => "https://github.com/other/lib/pull/$foreign", number => $foreign } }]));
ws_put('wsnogit');

my $events = Replicas::EventStream->open(port => $gw->{port}, host => $host, path => '/v1/events',
                                         headers => [['Authorization', "Bearer $ada->{key}"]]);
is($events->next_event(5)->{data}{type}, 'snapshot', 'the org event stream opens');


ok(poll_until(20, sub { $redis->cmd('HGET', 'replicas:ws:wsmerged', 'pr_merged_at') }),
   'the merged pull request is seen merged') or diag $ctl->log;
my $merged_at = $redis->cmd('HGET', 'replicas:ws:wsmerged', 'pr_merged_at');
ok(abs($merged_at - time) < 60, 'at the time GitHub says it was merged');
is($redis->cmd('HGET', 'replicas:ws:wsmerged', 'pr_merged_url'),
   "https://github.com/acme/app/pull/$pr{merged}", 'which pull request');
ok(scalar $events->wait_for(sub { $_[0]{type} eq "workspace.changed" && $_[0]{payload}{id} eq "wsmerged" }, 10),
   'the change published (the org event stream says so)');
ok(poll_until(20, sub { ($redis->cmd('HGET', 'replicas:ws:wsclosed', 'pr_closed') // '') =~ /pull/ }),
   'the closed one is recorded closed');
is($redis->cmd('HGET', 'replicas:ws:wsclosed', 'pr_merged_at'), undef, 'and not merged');
is($redis->cmd('HGET', 'replicas:ws:wsopen', 'pr_merged_at'), undef, 'the open one neither');
is($redis->cmd('HGET', 'replicas:ws:wsforeign', 'pr_merged_at'), undef,
   'nor another repository\'s');
is(scalar(grep { $_->{path} =~ m{^/repos/other/} } @{ $gh->requests }), 0, 'which GitHub is not asked about');

$j = stats($ada);
my $y = day_of($j, day($started));
is($y->{with_pr}, 3, 'yesterday\'s workspaces: three with a pull request');
is($y->{merged}, 1, 'one merged, counted on the day it started');
is($j->{totals}{merged}, 1, 'the range\'s merged');
ok(abs($j->{merged_share}{of_with_pr} - 1 / 3) < 1e-9, 'the headline: 1 of 3 with a pull request');
ok(abs($j->{merged_share}{of_started} - 1 / 9) < 1e-9, 'and 1 of the 9 started in the range');

# the requests: GitHub's own, with the environment's token
my $reqs = sub { [grep { $_->{path} =~ m{^/repos/acme/app/pulls/\d+$} } @{ $gh->requests }] };
my @r = @{ $reqs->() };
ok(@r >= 3, 'GitHub was asked') or diag explain \@r;
is_deeply([grep { $_->{headers}{authorization} ne "Bearer $token" } @r], [],
          'each with the workspace\'s token');
is_deeply([grep { ($_->{headers}{'x-github-api-version'} // '') ne '2022-11-28' } @r], [],
          'and the API version pinned');
like($r[0]{headers}{accept} // '', qr{application/vnd\.github\+json}, 'asking for GitHub\'s JSON');
my $closed_asked = sub { scalar grep { $_->{path} =~ m{/pulls/$pr{closed}$} } @{ $reqs->() } };
my $closed_n = $closed_asked->();
is($closed_n, 1, 'the closed one asked once');
poll_until(5, sub { grep({ $_->{path} =~ m{/pulls/$pr{open}$} } @{ $reqs->() }) >= 3 });
is($closed_asked->(), $closed_n, 'and never again (the open one meanwhile again and again)');
is(scalar grep({ $_->{path} =~ m{/pulls/$pr{merged}$} } @{ $reqs->() }), 1,
   'nor the merged one');
unlike($ctl->log, qr/\Q$token\E/, 'the token is in no log');

# a rate limit: GitHub's 403 with X-RateLimit-Remaining 0 and its reset
my $n0 = @{ $reqs->() };
my $reset = int(time) + 4;
$gh->limit_next(403, reset => $reset);
ok(poll_until(10, sub { @{ $reqs->() } > $n0 }), 'the next request is answered 403');
my $limited = $reqs->()->[$n0];
ok(poll_until(10, sub { $redis->cmd('GET', 'replicas:pulls:backoff') }),
   'every worker waits (replicas:pulls:backoff)');
ok(poll_until(15, sub { @{ $reqs->() } > $n0 + 1 }), 'GitHub is asked again later');
my $after = $reqs->()->[$n0 + 1];
ok($after->{at} >= $reset, 'not before the reset GitHub gave (X-RateLimit-Reset)')
    or diag "limited at $limited->{at}, reset $reset, next at $after->{at}";

# a secondary limit: 429 with Retry-After
my $n1 = @{ $reqs->() };
$gh->limit_next(429, retry_after => 3);
ok(poll_until(10, sub { @{ $reqs->() } > $n1 }), 'a 429 with Retry-After: 3');
my $t429 = $reqs->()->[$n1]{at};
ok(poll_until(15, sub { @{ $reqs->() } > $n1 + 1 }), 'asked again later');
ok($reqs->()->[$n1 + 1]{at} >= int($t429) + 3 - 0.001, 'not before Retry-After\'s 3 seconds')
    or diag "429 at $t429, next at " . $reqs->()->[$n1 + 1]{at};

# bounded: ten more open pull requests, each due every second, are more
# than the budget of 60 a minute (all workers together): wait until a
# minute has used it all, and no minute has more
for my $i (1 .. 10) {
    my $n = $gh->add_pull('acme/app', "replicas/more$i");
    ws_put("wsmore$i", git => git_with("more$i", $n));
}
my $by_minute = sub {
    my %m;
    $m{ int($_->{at} / 60) }++ for @{ $gh->requests };
    return \%m;
};
ok(poll_until(80, sub { grep { $_ >= $per_minute } values %{ $by_minute->() } }),
   "a minute with $per_minute requests (the budget reached)") or diag explain $by_minute->();
my $over = [grep { $_ > $per_minute } values %{ $by_minute->() }];
is_deeply($over, [], "no minute with more than $per_minute") or diag explain $by_minute->();
$events->close;
# the poller's workspaces done with (their records would be asked on)
for my $id ('wsmerged', 'wsclosed', 'wsopen', 'wsnopr', 'wsnogit', 'wsforeign', map { "wsmore$_" } 1 .. 10) {
    $redis->cmd('DEL', "replicas:ws:$id");
    $redis->cmd('SREM', "replicas:org-ws:$ada->{org}", $id);
}
# and the spent minute's count, as a new minute would: else the pull
# request asked about below waits for the next minute, up to 60 s
$redis->cmd('DEL', $_) for @{ $redis->cmd('KEYS', 'replicas:pulls:budget:*') };

# --- a real workspace: agents working now, tokens and cost -----------------------
my $app = fixture_repo('statsapp', { 'README.md' => "# stats\n" }, $ada->{org});
my $before = stats($ada)->{totals};
my $oev = Replicas::EventStream->open(port => $gw->{port}, host => $host, path => '/v1/events',
                                      headers => [['Authorization', "Bearer $ada->{key}"]]);
is($oev->next_event(5)->{data}{type}, 'snapshot', 'the org event stream opens');
($st, my $w) = api($gw, $ada->{key}, 'POST', '/v1/workspaces',
                   { repository => $app, name => 'busy-one', message => 'Do the first task' });
is($st, 201, 'a workspace with a first message') or diag explain $w;
my $id = $w->{id};

# its branch while it is awake, never having slept: the engine's /healthz
# summary, kept by control's watch as the workspace's "git" (the list's
# branch and pull request), announced on the org event stream
my $repo_of = sub { my (undef, $g) = api($gw, $ada->{key}, 'GET', "/v1/workspaces/$id");
                    return ($g, ($g->{git}{repositories} // [])->[0] // {}) };
ok(poll_until(120, sub { my ($g, $r) = $repo_of->(); ($r->{branch} // '') eq "replicas/$id" }),
   'GET /v1/workspaces/{id}: its branch, awake') or diag $ctl->log;
my ($g1, $r1) = $repo_of->();
is($g1->{state}, 'awake', 'and awake');
unlike($ctl->log, qr/ws\.history_saved ws=$id/, 'it never slept (nothing saved at a sleep)');
is($r1->{name}, 'statsapp', 'the repository\'s name');
like($r1->{head} // '', qr/^[0-9a-f]{40}$/, 'its head');
ok(defined $r1->{ahead}, 'how far ahead');
ok(!exists $r1->{dirty} && !exists $r1->{base}, 'the kept shape (no dirty, no base)');
ok($g1->{git}{at}, 'and when it was written');
my ($gev) = $oev->wait_for(sub { $_[0]{type} eq 'workspace.changed' && $_[0]{payload}{id} eq $id
                                 && (($_[0]{payload}{git}{repositories} // [])->[0]{branch} // '') eq "replicas/$id" }, 20);
ok($gev, 'an event on /v1/events carries it');
$oev->close;
my $spent = sub { stats($ada)->{totals} };
ok(poll_until(180, sub { $spent->()->{turns} >= $before->{turns} + 1 }),
   'its turn is counted') or diag $ctl->log;
my $after1 = $spent->();
ok($after1->{tokens_in} > $before->{tokens_in} && $after1->{tokens_out} > $before->{tokens_out},
   'with its tokens in and out') or diag explain $after1;

# what the engine said the turn spent: its chat.turn.completed
my $wse = Replicas::EventStream->open(port => $gw->{port}, host => $host,
    path => "/v1/workspaces/$id/events?after=0", headers => [['Authorization', "Bearer $ada->{key}"]]);
my ($done1) = $wse->wait_for(sub { $_[0]{type} eq 'chat.turn.completed' }, 30);
ok($done1, 'the turn\'s outcome event') or diag explain $wse;
my $u1 = $done1 ? $done1->{data}{payload}{usage} : {};
is($after1->{tokens_in} - $before->{tokens_in}, $u1->{input_tokens}, 'tokens in as the turn reported them');
is($after1->{tokens_out} - $before->{tokens_out}, $u1->{output_tokens}, 'tokens out too');
ok(abs(($after1->{cost_usd} - $before->{cost_usd}) - ($done1 ? $done1->{data}{payload}{cost_usd} : -1)) < 1e-6,
   'and its cost');

# a slow turn: an agent working now
($st) = api($gw, $ada->{key}, 'POST', "/v1/workspaces/$id/messages", { text => 'Now the slow task' });
is($st, 202, 'a slow turn asked');
ok(poll_until(30, sub { stats($ada)->{working}{count} == 1 }), 'one agent working now');
is_deeply([map { $_->{id} } @{ stats($ada)->{working}{workspaces} }], [$id], 'this one');
is(stats($eve)->{working}{count}, 0, 'not in another organisation\'s');
ok(poll_until(60, sub { stats($ada)->{working}{count} == 0 }), 'none once its turn is done');
my ($done2) = $wse->wait_for(sub { $_[0]{type} eq 'chat.turn.completed' }, 30);
ok(poll_until(10, sub { $spent->()->{turns} == $after1->{turns} + 1 }), 'the second turn counted');
my $after2 = $spent->();
is($after2->{tokens_in} - $after1->{tokens_in}, $done2->{data}{payload}{usage}{input_tokens},
   'its tokens in, once');
$wse->close;

# the engine restarted (its count kept in its state), then control
# restarted (its memory of what it wrote gone): nothing counted twice
my $pid = Replicas::Control::engine_pid($redis->cmd('HGET', "replicas:ws:$id", 'sandbox'));
ok($pid, 'the engine\'s process') and kill 'KILL', $pid;
ok(poll_until(30, sub { my ($s, $g) = api($gw, $ada->{key}, 'GET', "/v1/workspaces/$id");
                        ($g->{health}{restarts} // 0) >= 1 && ($g->{health}{engine} // '') eq 'ok' }),
   'the engine is restarted') or diag $ctl->log;
$ctl->stop;
$redis->cmd('HDEL', "replicas:ws:$id", 'working');
$ctl->start;
ok(poll_until(30, sub { defined $redis->cmd('HGET', "replicas:ws:$id", 'working') }),
   'the new control watches the engine again');
sleep 2;
is_deeply($spent->(), $after2, 'the same tokens, cost and turns: none counted twice');

# a pull request opened while it is awake, as its engine keeps one once it
# opened it (branch.<name>.replicasPullRequest: t/48 opens one for real
# against the GitHub stand-in; a test's sandbox cannot reach GitHub), and
# the workspace's repository as GitHub names it (a test cannot clone from
# there): in the list at once, asked of GitHub by the poller, no sleep
my $prn = $gh->add_pull('acme/app', "replicas/$id");
my $pr_url = "https://github.com/acme/app/pull/$prn";
$redis->cmd('HSET', "replicas:ws:$id", 'repository', $repo);
$pid = Replicas::Control::engine_pid($redis->cmd('HGET', "replicas:ws:$id", 'sandbox'));
my ($cfg) = glob "/proc/$pid/root/workspace/statsapp/.git/config";
ok($pid && $cfg && -f $cfg, 'the workspace\'s repository, from its engine\'s view');
system('git', 'config', '--file', $cfg, "branch.replicas/$id.replicasPullRequest", $pr_url) == 0
    and system('git', 'config', '--file', $cfg, "branch.replicas/$id.replicasPullRequestNumber", $prn) == 0
    or BAIL_OUT("git config --file $cfg failed");
$oev = Replicas::EventStream->open(port => $gw->{port}, host => $host, path => '/v1/events',
                                   headers => [['Authorization', "Bearer $ada->{key}"]]);
$oev->next_event(5);
ok(poll_until(30, sub { my (undef, $r) = $repo_of->(); ($r->{pullRequest}{url} // '') eq $pr_url }),
   'its pull request in GET /v1/workspaces/{id}, awake') or diag explain [$repo_of->()];
my ($g2, $r2) = $repo_of->();
is_deeply($r2->{pullRequest}, { url => $pr_url, number => $prn }, '{url, number}');
is($g2->{state}, 'awake', 'it did not sleep for it');
($gev) = $oev->wait_for(sub { $_[0]{type} eq 'workspace.changed' && $_[0]{payload}{id} eq $id
                              && (($_[0]{payload}{git}{repositories} // [])->[0]{pullRequest}{url} // '') eq $pr_url }, 20);
ok($gev, 'announced on /v1/events');
$oev->close;
ok(poll_until(30, sub { grep { $_->{path} eq "/repos/acme/app/pulls/$prn" } @{ $gh->requests } }),
   'the pull request poller asks GitHub about it') or diag $ctl->log;
# written on change only: the watch probes every second, the record stays
my $at = $redis->cmd('HGET', "replicas:ws:$id", 'git_at');
my $text = $redis->cmd('HGET', "replicas:ws:$id", 'git');
sleep 3.5;
is($redis->cmd('HGET', "replicas:ws:$id", 'git_at'), $at, 'git_at the same seconds later: no write without a change');
is($redis->cmd('HGET', "replicas:ws:$id", 'git'), $text, 'nor another text');

# --- the page, in Chromium ----------------------------------------------------------
my $chromium = '/usr/bin/chromium';
my $modules = objs_dir() . '/node/node_modules';
ok(-x $chromium && -d "$modules/playwright-core" && -f objs_dir() . '/dashboard/www/app.js',
   'Chromium, playwright-core and the built dashboard are there')
    or BAIL_OUT('run ./auto/test (it installs and builds them)');
my $main = "http://$host";
my $shots = $ENV{REPLICAS_SHOTS} // tmpdir() . '/shots';
mkdir $shots;
my $want = stats($ada);
{
    local $ENV{NODE_PATH} = $modules;
    local $ENV{CHROMIUM} = $chromium;
    local $ENV{LOGIN_LINK} = login_link($redis, $ada->{user}, $main);
    local $ENV{MAIN} = $main;
    local $ENV{REPO} = $repo;
    local $ENV{SHOTS} = $shots;
    my $out = qx{node @{[ repo_root() ]}/t/browser/stats.js 2>&1};
    is($?, 0, 'the browser script ran') or diag $out;
    my $seen = eval { decode_json((split /\n/, $out)[-1]) } // {};
    is($seen->{error_thrown}, undef, 'it went through every step') or diag explain $seen;
    like($seen->{url} // '', qr{/stats$}, 'the header\'s Stats link opens /stats');
    my $pct = sprintf('%d%%', $want->{merged_share}{of_with_pr} * 100 + 0.5);
    is($seen->{share}, $pct, "the headline share, big: $pct");
    like($seen->{counts} // '', qr/^$want->{totals}{merged} merged of $want->{totals}{with_pr} with a pull request/,
         'its counts');
    like($seen->{prompting} // '', qr/^$want->{prompting}{count} (people|person) prompting/, 'people prompting');
    like($seen->{prompting} // '', qr/ada\@example\.com/, 'who');
    like($seen->{working} // '', qr/^0 agents working now/, 'agents working now');
    like($seen->{spent} // '', qr/\(\Q$want->{totals}{turns}\E turns\)/, 'what turns spent');
    is($seen->{days}, 14, 'a bar per day');
    is($seen->{started_before}, day_of($want, day(time))->{started}, 'today\'s started');
    ok(($seen->{bar_width} // 0) > 0, 'drawn as a bar');
    is($seen->{created}, 201, 'a workspace started from the page\'s session');
    is($seen->{started_after}, $seen->{started_before} + 1,
       'shown without a reload (the org event stream)');
    like($seen->{url_30} // '', qr{/stats\?days=30$}, 'another range in the URL');
    is($seen->{days_30}, 30, 'with its days');
    like($seen->{error} // '', qr/could not be loaded\. the state store is unavailable/,
         'an API error said in the page');
    is($seen->{phone_overflow}, 0, 'a phone-sized window scrolls no sideways');
    is($seen->{phone_share}, $pct, 'and shows the headline');
    is_deeply($seen->{csp}, [], 'no CSP violation');
    is_deeply($seen->{console}, [], 'no error in the console') or diag explain $seen->{console};
    ok(-s "$shots/$_.png", "screenshot $_") for qw(stats stats-error stats-phone);
}

done_testing();
