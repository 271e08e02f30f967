# POST /v1/prewarm, "warm while typing": the API's checks (the create's
# validation and policy, roles, a workspace-bound key refused, one job per
# repository and environment a minute, the caller's rate limit) and
# control's prewarm job with --pool-size 0: the image built, one warm
# sandbox in its pool, marked to go; unclaimed after --prewarm-ttl (10 s
# here) the timer destroys it and nothing is left; at most
# --prewarm-max-org per organisation.  One real sandbox, no workspace (t/61
# claims one from the New workspace form).  Needs root, as ./auto/test runs.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis poll_until);
use Replicas::Gateway qw(start_gateway);
use Replicas::Identity qw(new_identity api control);
use Replicas::Control qw(start_control fixture_repo);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $key = $me->{key};

sub hash { return { @{ $redis->cmd('HGETALL', $_[0]) } } }
sub prewarm { return api($gw, $_[0], 'POST', '/v1/prewarm', $_[1]) }
sub code { return ($_[0] // {})->{error}{code} // '' }

my $repo = fixture_repo('warmed', { 'README.md' => "warm\n" }, $me->{org});
my $other = fixture_repo('other', { 'README.md' => "other\n" }, $me->{org});

# --- the API's checks, before any job --------------------------------------------
my ($st, $j);
for my $bad ([{}, qr/"repository" is required/],
             [{ repository => 'has space' }, qr/"repository" must be/],
             [{ repository => 'https://u:p@example.com/r.git' }, qr/no credentials/],
             [{ repository => 'http://127.0.0.1/r.git' }, qr/./],
             [{ repository => $repo, agent => 'nope' }, qr/"agent" must be one of/],
             [{ repository => $repo, environment => 'Bad Env' }, qr/"environment" must be/],
             [{ repository => $repo, name => 'x' }, qr/unknown field "name"/]) {
    ($st, $j) = prewarm($key, $bad->[0]);
    is($st, 400, 'invalid: 400');
    like($j->{error}{message} // '', $bad->[1], "  $j->{error}{message}");
}
($st) = api($gw, $key, 'GET', '/v1/prewarm');
is($st, 405, 'GET /v1/prewarm: 405');
($st) = prewarm(undef, { repository => $repo });
is($st, 401, 'no key: 401');
is(scalar @{ $redis->cmd('KEYS', 'replicas:prewarm:*') }, 0, 'nothing asked of control yet');

# a member may prewarm with no environment or one made usable to it, not another
my (undef, $bob) = control($redis, 'user', 'create', '--org', $me->{org}, '--email', 'bob@example.com');
chomp $bob;
my (undef, $bkey) = control($redis, 'key', 'create', '--user', $bob);
chomp $bkey;
($st, $j) = api($gw, $key, 'PUT', '/v1/environments/secret', { variables => { A => '1' } });
is($st, 200, 'an admin makes an environment no member may use') or diag explain $j;
($st, $j) = prewarm($bkey, { repository => $repo, environment => 'secret' });
is($st, 403, 'a member, an environment not usable by it: 403');
is(code($j), 'environment_forbidden', '  environment_forbidden');

# a key bound to a workspace (an engine's) may not
my (undef, $wkey) = control($redis, 'key', 'create', '--user', $me->{user}, '--workspace', 'wsprewarm1');
chomp $wkey;
($st, $j) = prewarm($wkey, { repository => $repo });
is($st, 403, 'a workspace-bound key: 403');
is(code($j), 'forbidden', '  forbidden');
is(scalar @{ $redis->cmd('KEYS', 'replicas:prewarm:*') }, 0, 'still no prewarm asked');

# it counts against the caller's rate limit
my $gw5 = start_gateway(redis => $redis, rate => 3);
my @codes = map { (api($gw5, $key, 'POST', '/v1/prewarm', { repository => $repo }))[0] } 1 .. 4;
is($codes[3], 429, "the 4th call of a minute with a limit of 3: 429 (@codes)");

# --- the job: control builds the image and warms a sandbox -----------------------------
$redis->cmd('DEL', $_) for @{ $redis->cmd('KEYS', 'replicas:prewarm:*') };
my $jobs0 = $redis->cmd('XLEN', 'replicas:jobs');
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--memory', 256, '--prewarm-ttl', 10,
                                 '--prewarm-max-org', 1,
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);
my $node = $ctl->{node};

($st, $j) = prewarm($bkey, { repository => $repo });
is($st, 202, 'a member prewarms a repository: 202') or diag explain $j;
is($j->{status}, 'warming', '  warming');
($st, $j) = prewarm($key, { repository => $repo });
is($st, 202, 'again within the minute (another caller of the organisation): 202');
is($redis->cmd('XLEN', 'replicas:jobs') - $jobs0, 1, '  one prewarm job, not two');

my ($ikey, $sb);
ok(poll_until(90, sub {
    my @im = @{ $redis->cmd('SMEMBERS', "replicas:images:$node") };
    return 0 unless @im == 1;
    $ikey = $im[0];
    my @m = @{ $redis->cmd('SMEMBERS', "replicas:pool:$node:$ikey") };
    $sb = $m[0];
    return @m == 1 && (hash("replicas:sandbox:$sb")->{state} // '') eq 'pooled';
}), 'the image is built and one warm sandbox waits in its pool, --pool-size 0 or not')
    or diag $ctl->log;
is(hash("replicas:image:$node:$ikey")->{state}, 'ready', 'the image is ready');
like($ctl->log, qr/event=pool\.fill image=$ikey sandbox=$sb .*prewarm=1/, 'logged pool.fill prewarm=1');
like(hash("replicas:sandbox:$sb")->{prewarm_until} // '', qr/^\d+$/, 'marked to go unclaimed');
ok(poll_until(10, sub { (prewarm($key, { repository => $repo }))[1]->{status} eq 'ready' }),
   'the API answers ready');
like($ctl->log, qr/event=prewarm\.ready /, 'logged prewarm.ready');

# bounded: another repository of the organisation, --prewarm-max-org 1
($st, $j) = prewarm($key, { repository => $other });
is($j->{status}, 'warming', 'another repository: warming');
my $fj;
ok(poll_until(60, sub { ($fj = (prewarm($key, { repository => $other }))[1])->{status} eq 'failed' }),
   'then failed: one prewarmed sandbox per organisation here') or diag $ctl->log;
like($fj->{reason} // '', qr/at most 1 per organisation/, "  $fj->{reason}");

# --- unclaimed, it goes after --prewarm-ttl ----------------------------------------
ok(poll_until(30, sub { @{ $redis->cmd('SMEMBERS', "replicas:pool:$node:$ikey") } == 0 }),
   'unclaimed, the prewarmed sandbox leaves the pool') or diag $ctl->log;
like($ctl->log, qr/event=pool\.drop image=$ikey sandbox=$sb reason=expired/, 'logged pool.drop reason=expired');
($st, $j) = prewarm($key, { repository => $repo });
is($j->{status}, 'warming', 'asked again then: warming, a new prewarm (no stale ready)');
ok(poll_until(60, sub { (prewarm($key, { repository => $repo }))[1]->{status} eq 'ready' }),
   '  ready again') or diag $ctl->log;
ok(poll_until(30, sub { @{ $redis->cmd('SMEMBERS', "replicas:pool:$node:$ikey") } == 0 }),
   '  and gone again after its TTL') or diag $ctl->log;
ok(poll_until(10, sub { !@{ $redis->cmd('SMEMBERS', "replicas:node-sandboxes:$node") } }),
   'no sandbox is left on the node') or diag explain $redis->cmd('SMEMBERS', "replicas:node-sandboxes:$node");
ok(!-e "/run/netns/$ctl->{net}-$sb", 'its network namespace is gone');

$ctl->teardown;
done_testing();
