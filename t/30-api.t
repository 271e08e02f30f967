# The HTTP API v1 on the main domain: keys, every endpoint, validation,
# the statuses, jobs written with their state, idempotent create, rate
# limits, workspace-scoped keys and revocation.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      poll_until nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(control new_identity api login_link);
use Digest::SHA ();
use MIME::Base64 ();

my $redis = start_redis();
my $gw = start_gateway(redis => $redis);
my $me = new_identity($redis);
my $key = $me->{key};
my $org = $me->{org};
my $d = $gw->{domain};

sub jobs {
    my $flat = $redis->cmd('XRANGE', 'replicas:jobs', '-', '+');
    return [ map { my %f = @{ $_->[1] }; \%f } @$flat ];
}
sub jobs_for { my ($id) = @_; [ grep { $_->{workspace} eq $id } @{ jobs() } ] }
sub err_code { $_[0] && $_[0]{error} ? $_[0]{error}{code} : '' }

# --- who is calling -----------------------------------------------------------
my ($st, $j) = api($gw, undef, 'GET', '/v1/workspaces');
is($st, 401, 'no key: 401');
is(err_code($j), 'unauthorized', 'in the error shape');
($st, $j) = api($gw, 'rk_nope_nope', 'GET', '/v1/workspaces');
is($st, 401, 'an unknown key: 401');
($st) = api($gw, undef, 'GET', '/v1/workspaces', undef,
            headers => [['Authorization', "Basic $key"]]);
is($st, 401, 'not a bearer credential: 401');
($st, $j) = api($gw, $key, 'GET', '/v1/workspaces');
is($st, 200, 'a key lists');
is_deeply($j->{workspaces}, [], 'nothing yet');
is($j->{caller}{org}, $me->{org}, 'the list says who is asking: the key\'s organisation');
is($j->{caller}{user}, $me->{user}, 'and user');

($st, $j) = api($gw, $key, 'GET', '/v1/nothing');
is($st, 404, 'unknown endpoint: 404');
is(err_code($j), 'not_found', 'as JSON');
($st, $j) = api($gw, $key, 'PUT', '/v1/workspaces');
is($st, 405, 'wrong method: 405');
is(err_code($j), 'method_not_allowed', 'as JSON');
($st) = api($gw, $key, 'GET', '/v1/workspaces/UPPER');
is($st, 404, 'a malformed id: 404');

# --- create -------------------------------------------------------------------
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces',
                { repository => 'file:///srv/repos/demo', name => 'first one',
                  message => 'hello agent' });
is($st, 201, 'create: 201');
my $id = $j->{id};
like($id, qr/^[a-z0-9]{12}$/, 'with an id of the preview grammar');
is($j->{state}, 'booting', 'booting at once');
is($j->{name}, 'first one', 'named');
is($j->{agent}, 'claude', 'default agent');
like($j->{desktop_url}, qr{^http://6080-$id\.\Q$d\E:\d+/$}, 'desktop URL');
is($redis->cmd('HGET', ws_key($id), 'state'), 'booting', 'state in Redis');
is($redis->cmd('HGET', ws_key($id), 'org'), $me->{org}, 'owned by the org');
my @kinds = map { $_->{type} } @{ jobs_for($id) };
is_deeply(\@kinds, ['create', 'message'], 'a create job and the first message job');
my $msgs = $redis->cmd('LRANGE', "replicas:ws-messages:$id", 0, -1);
is(decode_json($msgs->[0])->{text}, 'hello agent', 'the first message is stored');

# idempotency
my @idem = (headers => [['Idempotency-Key', 'abc-123']]);
my ($st1, $j1) = api($gw, $key, 'POST', '/v1/workspaces', { repository => 'r1' }, @idem);
my ($st2, $j2) = api($gw, $key, 'POST', '/v1/workspaces', { repository => 'r1' }, @idem);
is($st1, 201, 'first with an Idempotency-Key: 201');
is($st2, 200, 'the repeat: 200');
is($j2->{id}, $j1->{id}, 'the same workspace');
is(scalar @{ jobs_for($j1->{id}) }, 1, 'one create job only');
my ($st3, $j3) = api($gw, $key, 'POST', '/v1/workspaces', { repository => 'r1' },
                     headers => [['Idempotency-Key', 'other']]);
isnt($j3->{id}, $j1->{id}, 'another key: another workspace');
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => 'r1' },
                headers => [['Idempotency-Key', 'x' x 300]]);
is($st, 400, 'an overlong Idempotency-Key: 400');

# several repositories: the list is kept, in order, the first is "repository"
my $multi = new_identity($redis, email => 'multi@example.org');
($st, $j) = api($gw, $multi->{key}, 'POST', '/v1/workspaces',
                { repository => 'https://h/app.git', repositories => ['https://h/lib.git'] });
is($st, 201, 'a workspace of two repositories');
is_deeply($j->{repositories}, ['https://h/app.git', 'https://h/lib.git'], 'both listed, in order');
is($j->{repository}, 'https://h/app.git', 'the first is its repository');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
is_deeply($j->{repositories}, ['file:///srv/repos/demo'], 'one repository: a list of one')
    or diag explain $j;

# --- validation ---------------------------------------------------------------
my @bad = (
    ['{',                                     'invalid_json',    'broken JSON'],
    ['[]',                                    'invalid_request', 'not an object'],
    ['{}',                                    'invalid_request', 'repository missing'],
    ['{"repository":5}',                      'invalid_request', 'repository not a string'],
    ['{"repository":"a b"}',                  'invalid_request', 'repository with a space'],
    ['{"repository":""}',                     'invalid_request', 'empty repository'],
    ['{"repository":"' . ('r' x 513) . '"}',  'invalid_request', 'repository too long'],
    ['{"repository":"r","colour":"red"}',     'invalid_request', 'unknown field'],
    ['{"repository":"r","name":"<b>"}',       'invalid_request', 'bad name'],
    ['{"repository":"r","agent":"eliza"}',    'invalid_request', 'unknown agent'],
    ['{"repository":"r","environment":"A B"}','invalid_request', 'bad environment'],
    ['{"repository":"r","message":""}',       'invalid_request', 'empty message'],
    ['{"repository":"r","message":"a\u0000b"}','invalid_json',    'NUL in message'],
    ['{"repository":"r","repository":"s"}',   'invalid_json',    'duplicate member'],
    ['{"repository":"https://u:tok@h/r.git"}', 'invalid_request', 'credentials in the URL'],
    ['{"repository":"r","repositories":"s"}', 'invalid_request', 'repositories not an array'],
    ['{"repository":"r","repositories":[5]}', 'invalid_request', 'a repository in the list not a string'],
    ['{"repository":"r","repositories":["https://t@h/x"]}', 'invalid_request', 'credentials in a listed URL'],
    ['{"repository":"r","repositories":[' . join(',', map { qq("r$_") } 1 .. 8) . ']}',
                                              'invalid_request', 'more than 8 repositories'],
);
for my $b (@bad) {
    my ($s, $e) = api($gw, $key, 'POST', '/v1/workspaces', $b->[0]);
    is($s, 400, "400 for $b->[2]");
    is(err_code($e), $b->[1], "code $b->[1] for $b->[2]");
}
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', undef);
is($st, 400, 'no body: 400');
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces',
                '{"repository":"r","message":"' . ('m' x 70000) . '"}');
is($st, 413, 'over replicas_api_body_max: 413');
is(err_code($j), 'body_too_large', 'in JSON');
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', 'x' x (1100 * 1024));
is($st, 413, 'over client_max_body_size: 413');
is(err_code($j), 'body_too_large', 'still JSON');

# --- read ---------------------------------------------------------------------
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
is($st, 200, 'get');
is($j->{id}, $id, 'the workspace');
is_deeply($j->{previews}, [], 'no previews yet');
($st, $j) = api($gw, $key, 'GET', '/v1/workspaces');
is(scalar @{ $j->{workspaces} }, 3, 'list shows the three');
($st, $j) = api($gw, $key, 'GET', '/v1/workspaces/nosuchthing1');
is($st, 404, 'unknown workspace: 404');
is(err_code($j), 'workspace_not_found', 'named');

my $other = new_identity($redis, email => 'eve@example.org');
($st) = api($gw, $other->{key}, 'GET', "/v1/workspaces/$id");
is($st, 404, 'another organisation sees nothing');
($st, $j) = api($gw, $other->{key}, 'GET', '/v1/workspaces');
is_deeply($j->{workspaces}, [], 'nor in its list');
($st) = api($gw, $other->{key}, 'DELETE', "/v1/workspaces/$id");
is($st, 404, 'nor may it delete');

# --- messages -------------------------------------------------------------------
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'two' });
is($st, 202, 'message: 202');
is($j->{status}, 'queued', 'queued while booting');
is($j->{position}, 1, 'behind the first');
$redis->cmd('HSET', ws_key($id), 'state', 'sleeping');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages",
                { text => "three\nlines", chat => 'ci-fixes' });
is($j->{status}, 'waking', 'to a sleeping workspace: waking');
is_deeply([ map { $_->{type} } @{ jobs_for($id) } ],
          ['create', 'message', 'message', 'wake', 'message'], 'message jobs and a wake job');
is($redis->cmd('HGET', ws_key($id), 'state'), 'provisioning', 'the message wakes it');
$msgs = $redis->cmd('LRANGE', "replicas:ws-messages:$id", 0, -1);
is_deeply([ map { decode_json($_)->{text} } @$msgs ], ['hello agent', 'two', "three\nlines"],
          'messages stored in order');
is(decode_json($msgs->[2])->{chat}, 'ci-fixes', 'with their chat');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages",
                { text => 'CI failed: lint', kind => 'ci_failure' });
is($st, 202, 'a message with a kind');
$msgs = $redis->cmd('LRANGE', "replicas:ws-messages:$id", 0, -1);
is(decode_json($msgs->[3])->{kind}, 'ci_failure', 'keeps its kind (the engine folds by it)');
ok(!exists decode_json($msgs->[2])->{kind}, "a person's message has none");
for my $b (['{}', 'text missing'], ['{"text":""}', 'empty text'],
           ['{"text":"x","chat":"Bad Chat"}', 'bad chat'], ['{"text":7}', 'text not a string'],
           ['{"text":"x","kind":"CI Failure"}', 'bad kind'], ['{"text":"x","kind":""}', 'empty kind'],
           ['{"text":"x","kind":5}', 'kind not a string']) {
    ($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", $b->[0]);
    is($st, 400, "message: 400 for $b->[1]");
}

# --- sleep, wake ----------------------------------------------------------------
$redis->cmd('HSET', ws_key($id), 'state', 'awake');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($st, 202, 'sleep: 202');
is(jobs_for($id)->[-1]{type}, 'sleep', 'a sleep job');
$redis->cmd('HSET', ws_key($id), 'state', 'sleeping');
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/wake");
is($st, 202, 'wake: 202');
is(jobs_for($id)->[-1]{type}, 'wake', 'a wake job');
$redis->cmd('HSET', ws_key($id), 'state', 'failed');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/wake");
is($st, 409, 'waking a failed workspace: 409');
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'x' });
is($st, 409, 'a message to a failed workspace: 409');
$redis->cmd('HSET', ws_key($id), 'state', 'awake');

# --- previews ---------------------------------------------------------------------
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews", { port => 3000 });
is($st, 201, 'preview added');
is($j->{visibility}, 'authenticated', 'authenticated by default');
like($j->{url}, qr{^http://3000-$id\.\Q$d\E:\d+/$}, 'with its URL');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews",
                { port => 8080, visibility => 'public' });
is($st, 201, 'a public preview');
is($redis->cmd('HGET', ws_key($id), 'public'), '8080', 'public ports kept for the gateway');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id/previews");
is_deeply([ map { "$_->{port}:$_->{visibility}" } @{ $j->{previews} } ],
          ['3000:authenticated', '8080:public'], 'listed');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
is(scalar @{ $j->{previews} }, 2, 'and in the workspace');
for my $b ([{ port => 3737, visibility => 'public' }, 'the engine public'],
           [{ port => 6080, visibility => 'public' }, 'the desktop public'],
           [{ port => 0 }, 'port 0'], [{ port => 65536 }, 'port 65536'],
           [{ port => '3000' }, 'port as a string'],
           [{ port => 3000, visibility => 'open' }, 'unknown visibility']) {
    ($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews", $b->[0]);
    is($st, 400, "preview: 400 for $b->[1]");
}
for my $p (9001 .. 9007) {
    ($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews", { port => $p, visibility => 'public' });
    is($st, 201, "public port $p of 8: 201") or diag explain $j;
}
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews", { port => 9008, visibility => 'public' });
is($st, 409, 'a ninth public port: 409');
($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$id/previews/8080");
is($st, 200, 'preview deleted by path');
unlike($redis->cmd('HGET', ws_key($id), 'public'), qr/\b8080\b/, 'no longer public');
($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$id/previews", { port => 8080 });
is($st, 404, 'deleting it again: 404');
($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$id/previews/03000");
is($st, 400, 'a port with a leading zero: 400');

# --- share links ------------------------------------------------------------------
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews/3000/shares", undef);
is($st, 201, 'share link made');
like($j->{url}, qr{^http://3000-$id\.\Q$d\E:\d+/\?replicas_share=k1\.}, 'a signed link');
ok($j->{expires_at} - time >= 3590 && $j->{expires_at} - time <= 3610, 'one hour by default');
my $share = $j->{id};
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews/3000/shares",
                { expires_in => 8 * 86400 });
is($st, 400, 'more than 7 days: 400');
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/previews/3737/shares", undef);
is($st, 400, 'the engine cannot be shared');
($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$id/previews/3000/shares/$share");
is($st, 200, 'share revoked');
($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$id/previews/3000/shares/$share");
is($st, 404, 'revoking it again: 404');

# --- a workspace-scoped key (the engine's) --------------------------------------------
my ($rc, $scoped) = control($redis, 'key', 'create', '--user', $me->{user}, '--workspace', $id);
chomp $scoped;
($st) = api($gw, $scoped, 'GET', "/v1/workspaces/$id/previews");
is($st, 200, 'scoped key: its own previews');
($st) = api($gw, $scoped, 'POST', "/v1/workspaces/$id/previews", { port => 5173 });
is($st, 201, 'scoped key: adds a preview');
($st, $j) = api($gw, $scoped, 'GET', "/v1/workspaces/$id");
is($st, 403, 'scoped key: not the workspace itself');
is(err_code($j), 'forbidden', 'forbidden');
($st) = api($gw, $scoped, 'GET', "/v1/workspaces/$j1->{id}/previews");
is($st, 403, 'scoped key: not another workspace');
($st) = api($gw, $scoped, 'POST', '/v1/workspaces', { repository => 'r' });
is($st, 403, 'scoped key: cannot create');
($st) = api($gw, $scoped, 'GET', '/v1/workspaces');
is($st, 403, 'scoped key: cannot list');

# --- events: authenticated here, streamed from the engine ------------------------------
my $engine = start_upstream(addr => '127.0.0.5', port => 3737, name => 'engine');
$redis->cmd('HSET', ws_key($id), 'state', 'awake', 'addr', '127.0.0.5');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id/events?since=42",
                undef, headers => [['Last-Event-ID', '41']]);
is($st, 200, 'events: proxied');
is($j->{name}, 'engine', 'to the workspace\'s engine');
is($j->{uri}, '/events?since=42', 'its event stream, with the query');
is($j->{headers}{'last-event-id'}, '41', 'resumable: Last-Event-ID passes');
ok(!exists $j->{headers}{authorization}, 'the key does not reach the engine');
($st, $j) = api($gw, undef, 'GET', "/v1/workspaces/$id/events");
is($st, 401, 'events without a key: 401');
($st, $j) = api($gw, $other->{key}, 'GET', "/v1/workspaces/$id/events");
is($st, 404, 'events of another organisation\'s workspace: 404');
($st) = api($gw, $scoped, 'GET', "/v1/workspaces/$id/events");
is($st, 200, 'the scoped key reads its own events');
($st) = api($gw, $scoped, 'GET', "/v1/workspaces/$j1->{id}/events");
is($st, 403, 'and no one else\'s');
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/events");
is($st, 405, 'events: GET only');
$redis->cmd('HSET', ws_key($id), 'state', 'sleeping');
my $held = http_request(port => $gw->{port}, host => "$gw->{domain}:$gw->{port}",
                        path => "/v1/workspaces/$id/events", timeout => 1,
                        headers => [['Authorization', "Bearer $key"]]);
is($held->{error} // '', 'timeout', 'events of a sleeping workspace are held while it wakes (t/17 sees them released)');
is($redis->cmd('HGET', ws_key($id), 'state'), 'provisioning', 'asking for events wakes it');
is(jobs_for($id)->[-1]{type}, 'wake', 'with a wake job');

# --- the organisation's limit on awake workspaces ---------------------------------
{
    my $awake = $redis->cmd('SCARD', "replicas:org-awake:$org");
    $redis->cmd('HSET', 'replicas:settings', 'awake_limit', $awake);
    my ($s2, $j2) = api($gw, $key, 'POST', '/v1/workspaces', { repository => 'file:///x' });
    is($s2, 429, 'create over the limit: 429');
    is(err_code($j2), 'awake_limit', 'awake_limit');
    $redis->cmd('HSET', ws_key($id), 'state', 'sleeping');
    $redis->cmd('SREM', "replicas:org-awake:$org", $id);
    $redis->cmd('HSET', 'replicas:settings', 'awake_limit',
                $redis->cmd('SCARD', "replicas:org-awake:$org"));
    ($s2, $j2) = api($gw, $key, 'POST', "/v1/workspaces/$id/wake");
    is($s2, 429, 'wake over the limit: 429, nobody else is put to sleep');
    ($s2, $j2) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'x' });
    is($s2, 429, 'a message that would wake it over the limit: 429');
    $redis->cmd('HSET', "replicas:org:$org", 'max_awake', $awake + 5);
    ($s2) = api($gw, $key, 'POST', "/v1/workspaces/$id/wake");
    is($s2, 202, "the organisation's own limit wins over the deployment's");
    $redis->cmd('HDEL', 'replicas:settings', 'awake_limit');
    $redis->cmd('HDEL', "replicas:org:$org", 'max_awake');
}

# --- delete ---------------------------------------------------------------------------
($st, $j) = api($gw, $key, 'DELETE', "/v1/workspaces/$id");
is($st, 202, 'delete: 202');
is(jobs_for($id)->[-1]{type}, 'delete', 'a delete job');
($st) = api($gw, $key, 'GET', "/v1/workspaces/$id");
is($st, 404, 'gone');

# --- revocation ------------------------------------------------------------------------
my $k2 = (control($redis, 'key', 'create', '--user', $me->{user}))[1];
chomp $k2;
($st) = api($gw, $k2, 'GET', '/v1/workspaces');
is($st, 200, 'a second key works');
($rc) = control($redis, 'key', 'revoke', substr($k2, 3, 8), '--org', $me->{org});
is($rc, 0, 'revoked with control');
($st) = api($gw, $k2, 'GET', '/v1/workspaces');
is($st, 401, 'refused at once');

# --- share links expire -----------------------------------------------------------------
# a 60 s link (the shortest) used at once, so a gateway whose cache keeps
# credentials 300 s holds it; checked again past its expiry, further down
my $gwa = start_gateway(redis => $redis, auth => 'on', ttl => '300s');
my $sport = Replicas::Test::free_port();
start_upstream(addr => '127.0.0.5', port => $sport, name => 'S');
(undef, my $sws) = api($gw, $key, 'POST', '/v1/workspaces', { repository => 'r' });
$redis->cmd('HSET', ws_key($sws->{id}), state => 'awake', addr => '127.0.0.5');
($st, my $short) = api($gw, $key, 'POST', "/v1/workspaces/$sws->{id}/previews/$sport/shares",
                       { expires_in => 60 });
is($st, 201, 'a 60 s share link');
my ($stoken) = ($short->{url} // '') =~ /replicas_share=([^&]+)/;
my $shost = "$sport-$sws->{id}.$d";
my $by_link = sub { http_request(port => $gwa->{port}, host => $shost,
                                 path => "/?replicas_share=$_[0]")->{status} };
is($by_link->($stoken), 200, 'opens the preview');
is($by_link->($stoken), 200, 'and again (now cached)');
# a forged expiry: the payload's last field moved a day on, the MAC kept
my ($skid, $spayload, $smac) = split /\./, $stoken;
my @sf = split /\|/, MIME::Base64::decode_base64url($spayload);
$sf[-1] += 86400;
my $forged = join '.', $skid, MIME::Base64::encode_base64url(join '|', @sf), $smac;
is($by_link->($forged), 401, 'a forged expiry: 401');

# --- revocation seen by a second gateway on the same Redis ------------------------------
# two gateways with authentication on, each with the key cached for a
# preview; a revocation reaches both at once (within the poll's bound),
# not when their cache's 30 s run out
{
    my @gws = map { start_gateway(redis => $redis, auth => 'on') } 1 .. 2;
    my $pport = Replicas::Test::free_port();
    start_upstream(addr => '127.0.0.4', port => $pport, name => 'R');
    $redis->cmd('HSET', ws_key('wsrev'), state => 'awake', addr => '127.0.0.4', org => $me->{org});
    my $k4 = (control($redis, 'key', 'create', '--user', $me->{user}))[1];
    chomp $k4;
    my $open = sub { http_request(port => $_[0]{port}, host => "$pport-wsrev.$d",
                                  headers => [['Authorization', "Bearer $k4"]])->{status} };
    is_deeply([ map { $open->($_) } @gws ], [200, 200], 'a key opens a preview on both gateways');
    is_deeply([ map { $open->($_) } @gws ], [200, 200], 'and again (cached)');
    control($redis, 'key', 'revoke', substr($k4, 3, 8), '--org', $me->{org});
    ok(poll_until(2, sub { !grep { $open->($_) != 401 } @gws }),
       'revoked: both gateways refuse it at once');
}

# --- the login link's 15 minutes --------------------------------------------------------
{
    my $link = login_link($redis, $me->{user}, "http://$d:$gw->{port}");
    my ($lpath) = $link =~ m{^http://[^/]+(/.*)$};
    my ($token) = $link =~ /[?&]token=([^&]+)/;
    ok($token, 'a login link carries a token') or diag($link);
    my $lkey = 'replicas:login:' . Digest::SHA::sha256_hex($token // '');
    my $ttl = $redis->cmd('TTL', $lkey);
    ok($ttl > 0 && $ttl <= 900, "it is kept for at most 15 minutes ($ttl s)");
    # its 15 minutes, made to pass now: gone from Redis, then refused
    $redis->cmd('PEXPIRE', $lkey, 1);
    ok(poll_until(2, sub { !$redis->cmd('EXISTS', $lkey) }), 'expired: gone from Redis');
    my $res = http_request(port => $gw->{port}, host => "$d:$gw->{port}", path => $lpath,
                           headers => [['Accept', 'text/html']]);
    is($res->{status}, 401, 'an expired login link: 401');
    my $fresh = login_link($redis, $me->{user}, "http://$d:$gw->{port}");
    ($lpath) = $fresh =~ m{^http://[^/]+(/.*)$};
    $res = http_request(port => $gw->{port}, host => "$d:$gw->{port}", path => $lpath,
                        headers => [['Accept', 'text/html']]);
    is($res->{status}, 303, 'a fresh one logs in (the check above is the expiry\'s)');
}

# --- rate limit -----------------------------------------------------------------------
my $gw2 = start_gateway(redis => $redis, rate => 5);
my $k3 = new_identity($redis)->{key};
# the window is a wall-clock minute: six calls that straddle its edge are
# two windows, so they are made again with a fresh key (bounded)
my (@st, $rj, $rres);
for my $try (1 .. 3) {
    $k3 = new_identity($redis)->{key} if $try > 1;
    my $minute = int(time / 60);
    @st = map { (api($gw2, $k3, 'GET', '/v1/workspaces'))[0] } 1 .. 6;
    (undef, $rj, $rres) = api($gw2, $k3, 'GET', '/v1/workspaces');
    last if int(time / 60) == $minute;
    diag("the calls straddled a minute's edge: again");
}
is_deeply(\@st, [200, 200, 200, 200, 200, 429], 'the sixth in a minute: 429');
is(err_code($rj), 'rate_limited', 'rate_limited');
ok(($rres->{headers}{'retry-after'} // 0) >= 1, 'with Retry-After');
($st) = api($gw2, new_identity($redis)->{key}, 'GET', '/v1/workspaces');
is($st, 200, 'other keys are not limited by it');

# --- share links expire: past the 60 s --------------------------------------------------
poll_until(90, sub { time > $short->{expires_at} });
is($by_link->($stoken), 401, 'past its expiry the link is refused, though the gateway cached it');
# and its signed expiry alone refuses it, whatever Redis holds: the
# share's record written back as it was
$redis->cmd('HSET', "replicas:share:$short->{id}", workspace => $sws->{id}, port => $sport,
            org => $me->{org}, user => $me->{user}, expires => $short->{expires_at});
is($by_link->($stoken), 401, 'and with its record back in Redis');

# --- Redis down -------------------------------------------------------------------------
$redis->stop;
($st, $j, my $res) = api($gw, $key, 'GET', '/v1/workspaces');
is($st, 503, 'Redis down: 503');
is(err_code($j), 'state_unavailable', 'state_unavailable');
ok($res->{headers}{'retry-after'}, 'with Retry-After');

done_testing();
