# Warm pools and scheduled image rebuilds, end to end.  After a first
# workspace of a repository builds its image, the worker keeps one booted
# sandbox of it ready (--pool-size 1); the next workspace of that
# repository claims it instead of making one, and the pool is filled again.
# A new commit on the repository's default branch is noticed by the
# rebuild check (--image-refresh 2): a new image version is built, the
# pool's sandbox is replaced by one on it, and the workspaces made before
# keep working on the version they started on.  --pool-size 0 empties the
# pool.  Two workers share the node, as they would in production.  Needs
# root, as ./auto/test runs.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis http_request http_json poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces qw(serve_hook);
use Replicas::Control qw(start_control fixture_repo git_commit);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $key = $me->{key};
my $d = $gw->{domain};
my $ws = Replicas::Workspaces->new($gw, $key);

my @args = ('--memory', 256, '--image-refresh', 2,
            '--repo-root', Replicas::Test::tmpdir() . '/repos');
# two workers on the node: one fills, either claims
my $ctl = start_control(redis => $redis, gateway => $gw, workers => 2,
                        args => ['--pool-size', 1, @args]);
my $node = $ctl->{node};

my $serve = serve_hook();
my $repo = fixture_repo('pooled', { 'index.html' => "version one\n",
                                    'replicas.json' => $serve }, $me->{org});

sub create {
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces',
                       { repository => $repo });
    is($st, 201, 'create: 201');
    return $j->{id};
}

sub hash { return { @{ $redis->cmd('HGETALL', $_[0]) } } }

my ($ikey, $pool);
sub members { my @m = sort @{ $redis->cmd('SMEMBERS', $pool) }; return @m }
sub nmembers { my @m = members(); return scalar @m }

# a pool member that is ready: booted, no workspace, on the image's version
sub ready_member {
    my ($not) = @_;
    my $dir = hash("replicas:image:$node:$ikey")->{dir} // '';
    for my $id (members()) {
        next if defined $not && $id eq $not;
        my $sb = hash("replicas:sandbox:$id");
        return $id if ($sb->{state} // '') eq 'pooled'
                      && ($sb->{workspace} // 'x') eq '' && $sb->{lower} eq $dir;
    }
    return undef;
}

# --- a first workspace: cold, builds the image --------------------------------
my $wa = create();
is($ws->wait_state($wa, 'awake'), 'awake', "a first workspace $wa is awake")
    or diag $ctl->log;
is($ws->page($wa)->{body}, "version one\n", 'it serves the repository');
like($ctl->log, qr/event=pool\.miss ws=$wa .*reason=empty/,
     'the pool was empty: the cold path');

my @images = @{ $redis->cmd('SMEMBERS', "replicas:images:$node") };
is(scalar @images, 1, 'one image on this node');
$ikey = $images[0];
$pool = "replicas:pool:$node:$ikey";
my $image = hash("replicas:image:$node:$ikey");
is($image->{state}, 'ready', 'ready');
like($image->{sha}, qr/^[0-9a-f]{40}$/, 'built from a commit it remembers');

# --- the pool fills --------------------------------------------------------------
my $p1;
ok(poll_until(60, sub { $p1 = ready_member() }),
   'the pool fills: a booted sandbox with no workspace') or diag $ctl->log;
like($ctl->log, qr/event=pool\.fill image=$ikey sandbox=$p1 /, 'logged pool.fill');
is(nmembers(), 1, 'one, as --pool-size says');
sleep 2.5;
is(nmembers(), 1, 'and no more');
my $p1rec = hash("replicas:sandbox:$p1");
ok(system("ip netns exec $ctl->{net}-$p1 true") == 0 || -e "/run/netns/$ctl->{net}-$p1",
   'it is a sandbox of its own (network namespace)');

# --- the next workspace of the repository claims it --------------------------------
my $wb = create();
is($ws->wait_state($wb, 'awake'), 'awake', "a second workspace $wb is awake")
    or diag $ctl->log;
my $brec = hash(ws_key($wb));
is($brec->{sandbox}, $p1, 'on the pooled sandbox');
is($brec->{addr}, $p1rec->{addr}, 'at its address');
like($ctl->log, qr/event=pool\.claim ws=$wb image=$ikey sandbox=$p1 .*ms=\d+/,
     'logged pool.claim');
is(hash("replicas:sandbox:$p1")->{workspace}, $wb, 'the sandbox is the workspace\'s now');
is($ws->page($wb)->{body}, "version one\n", 'its start hook serves the preview');
my $res = $ws->preview($wb, 3737, path => '/healthz');
is($res->{status}, 200, 'its engine answers through the gateway');
is(http_json($res)->{workspace}, $wb, 'and knows the workspace it was given');
is($ws->page($wa)->{body}, "version one\n", 'the first one still serves');

my $p2;
ok(poll_until(60, sub { $p2 = ready_member($p1) }),
   'the pool is filled again') or diag $ctl->log;
isnt($p2, $p1, 'with a new sandbox');

# --- the default branch moves: a new version, the pool follows ---------------------
my $old = hash("replicas:image:$node:$ikey");
git_commit($repo, { 'index.html' => "version two\n" }, 'second');
chomp(my $head = qx{git -C '$repo' rev-parse HEAD});
my $new;
ok(poll_until(90, sub { $new = hash("replicas:image:$node:$ikey");
                        ($new->{sha} // '') eq $head }),
   'the check notices the new commit and builds a new version') or diag $ctl->log;
isnt($new->{dir}, $old->{dir}, 'in a directory of its own');
is($new->{state}, 'ready', 'the image stays ready');
ok(-d $old->{dir}, 'the old version is kept (workspaces stand on it)');
like($ctl->log, qr/event=image\.refreshed image=$ikey from=$old->{sha} to=$head/,
     'logged image.refreshed');

my $p3;
ok(poll_until(60, sub { $p3 = ready_member() }),
   'the pool has a sandbox on the new version') or diag $ctl->log;
isnt($p3, $p2, 'a new one');
ok(poll_until(20, sub { !$redis->cmd('EXISTS', "replicas:sandbox:$p2") }),
   'the one on the old version is destroyed');
like($ctl->log, qr/event=pool\.drop image=$ikey sandbox=$p2 reason=stale/,
     'logged as stale');
is(hash("replicas:sandbox:$p1")->{lower}, $old->{dir},
   'the claimed one keeps its layers');

is($ws->page($wa)->{body}, "version one\n", 'the first workspace keeps working on its version');
is($ws->page($wb)->{body}, "version one\n", 'so does the second');

my $wc = create();
is($ws->wait_state($wc, 'awake'), 'awake', "a third workspace $wc is awake")
    or diag $ctl->log;
is(hash(ws_key($wc))->{sandbox}, $p3, 'on the new pooled sandbox');
is($ws->page($wc)->{body}, "version two\n", 'serving the new commit');

# nothing moved since: checks go on without building
my $built = () = $ctl->log =~ /event=image\.built /g;
sleep 5;
my $built2 = () = $ctl->log =~ /event=image\.built /g;
is($built2, $built, 'no rebuild while the branch stays');
like($ctl->log, qr/event=image\.checked image=$ikey sha=$head moved=0/,
     'while checks go on');

# --- a new engine binary (a deploy): the pool's sandbox is replaced -----------------
my $p4;
ok(poll_until(30, sub { $p4 = ready_member($p3) }), 'the pool is full again');
my $engine = Replicas::Test::tmpdir() . '/replicas-engine-new';
system('cp', Replicas::Test::objs_dir() . '/replicas-engine', $engine) == 0
    or die "cp: $!";
chmod 0755, $engine;
$ctl->stop;
@args = (@args, '--engine', $engine);
$ctl->{args} = ['--pool-size', 1, @args];
$ctl->start;
ok(poll_until(30, sub { !$redis->cmd('EXISTS', "replicas:sandbox:$p4") }),
   'after a restart with another engine binary, the pooled sandbox goes')
    or diag $ctl->log;
like($ctl->log, qr/event=pool\.drop image=$ikey sandbox=$p4 reason=engine/,
     'logged: reason=engine');
my $p5;
ok(poll_until(30, sub { $p5 = ready_member() }), 'and a new one runs the new engine')
    or diag $ctl->log;
is($ws->state_of($wc), 'awake', 'the workspaces are left alone');

# --- --pool-size 0: no pool ----------------------------------------------------------
$ctl->stop;
$ctl->{args} = ['--pool-size', 0, @args];
$ctl->start;
ok(poll_until(30, sub { nmembers() == 0 }), '--pool-size 0 empties the pool')
    or diag $ctl->log;
ok(poll_until(20, sub { !$redis->cmd('EXISTS', "replicas:sandbox:$p5") }),
   'its sandbox is destroyed') if $p5;
is($ws->state_of($wc), 'awake', 'workspaces are left alone');

my $we = create();
is($ws->wait_state($we, 'awake'), 'awake', 'a create without a pool is cold')
    or diag $ctl->log;
isnt(hash(ws_key($we))->{sandbox}, $p5 // '', 'on a sandbox of its own');

# --- old versions go once no sandbox stands on them ---------------------------------
ok(-d $old->{dir}, 'the old version is still there (two workspaces on it)');
for my $id ($wa, $wb) {
    my ($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$id");
    ok($st >= 200 && $st < 300, "delete $id ($st)");
}
my $gone = sub { my $s = $ws->state_of($_[0]); $s eq 'deleted' || $s eq '' };
ok(poll_until(30, sub { $gone->($wa) && $gone->($wb)
                        && !$redis->cmd('EXISTS', "replicas:sandbox:$p1") }),
   'both deleted, their sandboxes destroyed') or diag $ctl->log;
ok(-d $old->{dir}, 'the old version stays while the current one is new');
# as if the current version were built 20 minutes ago
$redis->cmd('HSET', "replicas:image:$node:$ikey", 'built_at', int(time) - 1200);
ok(poll_until(30, sub { !-d $old->{dir} }), 'then the next check removes it')
    or diag $ctl->log;
ok(-d $new->{dir}, 'not the current one');
like($ctl->log, qr/event=image\.gc image=$ikey /, 'logged image.gc');
is($ws->page($wc)->{body}, "version two\n", 'the workspaces on the current one go on');

# --- claim timings, for the record (no timing is asserted) -------------------------
my @ms = sort { $a <=> $b } ($ctl->log =~ /event=pool\.claim .*ms=(\d+)/g);
diag sprintf('pool.claim (claim to healthy) ms: %s', join(' ', @ms)) if @ms;

unlike($ctl->log, qr/$key/, 'no key in the worker log');

done_testing();
