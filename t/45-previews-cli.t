# Inside a real workspace, `replicas preview create 3000 --public` (the
# workspace's command line) asks the engine, which registers the preview
# with the platform through the gateway's API, using the key control gave
# it for this workspace only; the printed URL opens without a login.  The
# engine's key is replaced at every start (the old one revoked) and goes
# with the workspace.  Root.

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

my $redis = start_redis();
my $gport = free_port();
my $domain = $Replicas::Gateway::DOMAIN;

# control first: it makes the bridge the gateway also listens on, so that
# engines reach the API at the bridge's host address
my $ctl = start_control(redis => $redis,
    args => ['--pool-size', 0, '--allow-port', $gport,
             '--repo-root', Replicas::Test::tmpdir() . '/repos']);
(my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};
$ctl->stop;
push @{ $ctl->{args} }, '--platform-url', "http://$host:$gport",
                        '--platform-host', "$domain:$gport";
$ctl->start;
my $gw = start_gateway(redis => $redis, port => $gport, auth => 'on', also_listen => [$host]);
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);

my $repo = fixture_repo('site', {
    'index.html' => "a public page\n",
    'replicas.json' => encode_json({ startHook => { commands => [
        'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &',
        'replicas preview create 3000 --public > preview-url.txt 2> preview-err.txt',
        'replicas computer info > computer.txt 2>&1',
        'replicas preview create 3737 --public > engine-public.txt 2>&1 || echo refused >> engine-public.txt'] } }) }, $me->{org});

my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', "workspace $id") or diag $ctl->log;
my $sb = $redis->cmd('HGET', ws_key($id), 'sandbox');
my $dir = "$ctl->{home}/sandboxes/$sb/merged/site";
sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; return <$fh> // '' }
ok(poll_until(30, sub { slurp("$dir/engine-public.txt") =~ /refused/ }),
   'the start hook ran the CLI')
    or diag `cat $dir/preview-err.txt 2>&1`;

chomp(my $url = slurp("$dir/preview-url.txt"));
is($url, "http://3000-$id.$domain:$gport/", '`replicas preview create 3000 --public` prints its URL')
    or diag `cat $dir/preview-err.txt`;
like(slurp("$dir/computer.txt"), qr/workspace $id/, '`replicas computer info`');
like(slurp("$dir/engine-public.txt"), qr/never public.*\n?refused/s,
     'the engine port cannot be made public') or diag `cat $dir/engine-public.txt`;

($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id/previews");
is_deeply([ map { "$_->{port} $_->{visibility}" } @{ $j->{previews} } ], ['3000 public'],
          'the platform has the preview');
my $res;
poll_until(30, sub { $res = http_request(port => $gport, host => "3000-$id.$domain:$gport");
                     $res->{status} == 200 });
is($res->{status}, 200, 'and the URL opens without a login') or diag explain $res;
is($res->{body}, "a public page\n", 'on the workspace');

# the engine's key: scoped to this workspace, one at a time
my $keys = sub { scalar grep { my $r = { @{ $redis->cmd('HGETALL', "replicas:apikey:$_") } };
                               ($r->{workspace} // '') eq $id }
                 values %{ { @{ $redis->cmd('HGETALL', "replicas:org-apikeys:$me->{org}") } } } };
is($keys->(), 1, 'the engine has one key, scoped to its workspace');
my $first = $redis->cmd('HGET', ws_key($id), 'engine_key');
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, "sleeping"), "sleeping", "sleep");
$res = $ws->preview($id, 3737, path => '/healthz', timeout => 60);
is($ws->wait_state($id, 'awake'), 'awake', 'wake');
isnt($redis->cmd('HGET', ws_key($id), 'engine_key'), $first, 'a new key at the wake');
is($keys->(), 1, 'the old one revoked');

# deleting the preview from inside (the engine, through the gateway's 3737)
$res = http_request(port => $gport, host => "3737-$id.$domain:$gport", method => 'DELETE',
                    path => '/previews/3000', headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 200, 'the engine deletes a preview through the platform');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id/previews");
is_deeply($j->{previews}, [], 'gone');

api($gw, $key, 'DELETE', "/v1/workspaces/$id");
ok(poll_until(30, sub { ($redis->cmd('HGET', ws_key($id), 'state') // '') eq 'deleted' }), 'deleted');
ok(poll_until(30, sub { $keys->() == 0 }), "and its engine's key with it") or diag $ctl->log;
unlike($ctl->log, qr/rk_[a-z0-9]+_[A-Za-z0-9_-]{20}/, 'no key in the worker log');

done_testing();
