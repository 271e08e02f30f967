# Roles and ownership inside an organisation (issue 19): a member's key
# and browser session against an admin's environments and workspace.
# Admins manage environments; a member uses only the ones made usable to
# it, never reads or writes a value, never touches Global; environment
# files never land in .git or shell start-up files, loader variables
# need an admin's explicit allow; members act on their own workspaces and
# those shared with them (collaborators), admins on all.  Finding 8 of
# the issue (Secure cookies behind a TLS proxy) is t/57; the access log's
# actor (finding 4) t/58.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX ();
use Replicas::Test qw(start_redis http_request http_json start_upstream);
use Replicas::Gateway qw(start_gateway put_workspace signing_keys_file);
use Replicas::Identity qw(control new_identity api login_link);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', keys => signing_keys_file('k1'));
my ($d, $gp) = ($gw->{domain}, $gw->{port});
my $main = "http://$d:$gp";

my $admin = new_identity($redis);
my $org = $admin->{org};
my (undef, $muser) = control($redis, 'user', 'create', '--org', $org, '--email', 'm@example.com');
chomp $muser;
my (undef, $mkey) = control($redis, 'key', 'create', '--user', $muser);
chomp $mkey;
my (undef, $m2user) = control($redis, 'user', 'create', '--org', $org, '--email', 'n@example.com');
chomp $m2user;
my (undef, $m2key) = control($redis, 'key', 'create', '--user', $m2user);
chomp $m2key;
is($redis->cmd('HGET', "replicas:user:$muser", 'role'), 'member', 'user create without --admin: a member');

sub code { my ($j) = @_; return $j && $j->{error} ? $j->{error}{code} : '' }
my $M = 'S3CRET';

# --- environments: admins manage, members use what is made usable --------------
my ($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/global',
                   { variables => { MODEL_KEY => "$M-model" } });
is($st, 200, 'the admin writes Global');
ok(!exists $j->{usable_by}, 'Global has no usable_by: every workspace gets it');
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/prod',
                { variables => { PROD_DB_PASSWORD => "$M-prod" } });
is($st, 200, 'the admin writes prod, usable by no member');
is_deeply($j->{usable_by}, [], 'usable_by: nobody');
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/dev',
                { variables => { DEV_TOKEN => "$M-dev" }, usable_by => [$muser] });
is($st, 200, 'the admin writes dev, usable by one member');
is_deeply($j->{usable_by}, [$muser], 'usable_by: that member');
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/shared',
                { variables => { S => "$M-s" }, usable_by => 'all' });
is_deeply([$st, $j->{usable_by}], [200, 'all'], 'usable_by: all');
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/global',
                { variables => { X => 'y' }, usable_by => 'all' });
is_deeply([$st, code($j)], [400, 'invalid_request'], 'Global takes no usable_by');
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/dev',
                { variables => { DEV_TOKEN => "$M-dev" }, usable_by => ['bad id!'] });
is($st, 400, 'usable_by: user ids only');

for my $case (['PUT', '/v1/environments/global', { variables => { X => 'planted' } }],
              ['PUT', '/v1/environments/dev', { variables => { DEV_TOKEN => 'mine' } }],
              ['PUT', '/v1/environments/new', { variables => { A => 'b' } }],
              ['DELETE', '/v1/environments/prod', undef],
              ['DELETE', '/v1/environments/dev', undef],
              ['GET', '/v1/environments/global', undef]) {
    ($st, $j) = api($gw, $mkey, @$case);
    is($st, 403, "a member: $case->[0] $case->[1]: 403");
    like($j->{error}{message} // '', qr/admin/, 'with a message naming who may');
}
($st, $j) = api($gw, $mkey, 'GET', '/v1/environments/prod');
is_deeply([$st, code($j)], [403, 'environment_forbidden'], 'a member: GET prod (not usable): 403');
($st, $j) = api($gw, $mkey, 'GET', '/v1/environments/dev');
is($st, 200, 'a member: GET dev (usable by it): 200');
is_deeply($j->{variables}, ['DEV_TOKEN'], 'names only');
($st, $j) = api($gw, $mkey, 'GET', '/v1/environments');
is_deeply([map { $_->{name} } @{ $j->{environments} }], [qw(dev shared)],
          'a member lists only the environments usable by it (never Global)');
($st, $j) = api($gw, $m2key, 'GET', '/v1/environments');
is_deeply([map { $_->{name} } @{ $j->{environments} }], ['shared'], 'another member: only "all"');
($st, $j) = api($gw, $admin->{key}, 'GET', '/v1/environments');
is_deeply([map { $_->{name} } @{ $j->{environments} }], [qw(dev global prod shared)], 'an admin: all');
($st, $j) = api($gw, $admin->{key}, 'GET', '/v1/environments/prod');
is($redis->cmd('HGET', "replicas:env:$org:global", 'var:X'), undef, 'Global untouched by the member');
like($redis->cmd('HGET', "replicas:env:$org:global", 'var:MODEL_KEY'), qr/^v1\./, 'the admin\'s value kept');

my $repo = 'https://example.com/r.git';
($st, $j) = api($gw, $mkey, 'POST', '/v1/workspaces', { repository => $repo, environment => 'prod' });
is_deeply([$st, code($j)], [403, 'environment_forbidden'], 'a member creates with prod: 403');
($st, $j) = api($gw, $m2key, 'POST', '/v1/workspaces', { repository => $repo, environment => 'dev' });
is($st, 403, 'another member creates with dev (not usable by it): 403');
($st, $j) = api($gw, $mkey, 'POST', '/v1/workspaces', { repository => $repo, environment => 'nope' });
is($st, 403, 'a member creates with an environment that does not exist: 403');
($st, $j) = api($gw, $mkey, 'POST', '/v1/workspaces', { repository => $repo, environment => 'global' });
is($st, 403, 'a member names Global: 403');
($st, $j) = api($gw, $mkey, 'POST', '/v1/workspaces', { repository => $repo, environment => 'dev' });
is($st, 201, 'a member creates with dev (usable by it): 201');
my $mine = $j->{id};
is($j->{owner}, $muser, 'the view names its owner');
is_deeply($j->{collaborators}, [], 'and no collaborators yet');

# --- what an environment may hold ------------------------------------------------
for my $v (qw(LD_PRELOAD LD_LIBRARY_PATH PATH NODE_OPTIONS PYTHONPATH BASH_ENV)) {
    ($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/prod',
                    { variables => { $v => '/tmp/x' } });
    is_deeply([$st, code($j)], [400, 'invalid_request'], "$v refused");
    like($j->{error}{message} // '', qr/allow_loader_variables/, 'saying how to allow it');
}
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/tools',
                { variables => { PATH => '/opt/bin:/usr/bin' }, allow_loader_variables => JSON::PP::true });
is($st, 200, 'PATH with allow_loader_variables: true (an admin\'s choice)');
is($j->{allow_loader_variables}, JSON::PP::true, 'shown in the view');
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/tools',
                { variables => { PATH => '/x' }, allow_loader_variables => 'yes' });
is($st, 400, 'allow_loader_variables must be a boolean');
for my $f ('.git/config', 'repo/.git/hooks/pre-commit', '.home/.bashrc', '.home/.profile',
           '.home/.bash_profile', '.home/.zshrc') {
    ($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/prod',
                    { files => { $f => "echo planted\n" } });
    is_deeply([$st, code($j)], [400, 'invalid_request'], "a file at $f refused");
}
($st, $j) = api($gw, $admin->{key}, 'PUT', '/v1/environments/prod',
                { variables => { PROD_DB_PASSWORD => "$M-prod" }, files => { '.home/.npmrc' => 'x' } });
is($st, 200, 'an ordinary dot file is fine');

# --- ownership -------------------------------------------------------------------
($st, $j) = api($gw, $admin->{key}, 'POST', '/v1/workspaces', { repository => $repo, environment => 'prod' });
is($st, 201, 'the admin creates W with prod');
my $w = $j->{id};
is($j->{owner}, $admin->{user}, 'owned by the admin');
($st, $j) = api($gw, $mkey, 'GET', "/v1/workspaces/$w");
is_deeply([$st, $j->{owner}], [200, $admin->{user}], 'a member sees W and its owner');
($st, $j) = api($gw, $mkey, 'GET', '/v1/workspaces');
is_deeply([sort map { $_->{id} } @{ $j->{workspaces} }], [sort $w, $mine],
          'a member lists the organisation\'s workspaces (the team view)');

my @acts = (['POST', "/v1/workspaces/$w/messages", { text => 'hi' }],
            ['POST', "/v1/workspaces/$w/sleep", undef],
            ['POST', "/v1/workspaces/$w/wake", undef],
            ['POST', "/v1/workspaces/$w/previews", { port => 3000, visibility => 'public' }],
            ['DELETE', "/v1/workspaces/$w/previews/3000", undef],
            ['POST', "/v1/workspaces/$w/previews/3000/shares", {}],
            ['GET', "/v1/workspaces/$w/previews/3000/shares", undef],
            ['PUT', "/v1/workspaces/$w/collaborators", { collaborators => [$muser] }],
            ['GET', "/v1/workspaces/$w/hooks", undef],      # what its start hook printed
            ['GET', "/v1/workspaces/$w/events", undef],
            ['DELETE', "/v1/workspaces/$w", undef]);
for my $a (@acts) {
    ($st, $j) = api($gw, $mkey, @$a);
    is_deeply([$st, code($j)], [403, 'not_your_workspace'], "a member: $a->[0] $a->[1]: 403");
    like($j->{error}{message} // '', qr/owner/, 'saying whose it is');
}
is($redis->cmd('HGET', "replicas:ws:$w", 'state'), 'booting', 'W untouched');
is($redis->cmd('LLEN', "replicas:ws-messages:$w"), 0, 'no message queued in W');

($st, $j) = api($gw, $mkey, 'POST', "/v1/workspaces/$mine/messages", { text => 'hi' });
is($st, 202, 'a member messages its own workspace');
($st, $j) = api($gw, $mkey, 'POST', "/v1/workspaces/$mine/previews", { port => 3000 });
is($st, 201, 'and adds a preview');
($st, $j) = api($gw, $admin->{key}, 'POST', "/v1/workspaces/$mine/messages", { text => 'hi' });
is($st, 202, 'an admin acts on a member\'s workspace');

# collaborators: set by the owner or an admin
($st, $j) = api($gw, $admin->{key}, 'PUT', "/v1/workspaces/$w/collaborators",
                { collaborators => ['nosuchuser1'] });
is($st, 400, 'a collaborator must be a user of the organisation');
my $eve = new_identity($redis, email => 'eve@example.org');
($st, $j) = api($gw, $admin->{key}, 'PUT', "/v1/workspaces/$w/collaborators",
                { collaborators => [$eve->{user}] });
is($st, 400, 'not one of another organisation');
($st, $j) = api($gw, $admin->{key}, 'PUT', "/v1/workspaces/$w/collaborators",
                { collaborators => [$muser] });
is($st, 200, 'the admin shares W with the member');
is_deeply($j->{collaborators}, [$muser], 'shown in the view');
($st, $j) = api($gw, $mkey, 'POST', "/v1/workspaces/$w/messages", { text => 'hi' });
is($st, 202, 'a collaborator messages W');
($st, $j) = api($gw, $mkey, 'PUT', "/v1/workspaces/$w/collaborators", { collaborators => [] });
is($st, 403, 'but a collaborator does not change who collaborates');
($st, $j) = api($gw, $m2key, 'POST', "/v1/workspaces/$w/messages", { text => 'hi' });
is($st, 403, 'another member still may not');
($st, $j) = api($gw, $mkey, 'PUT', "/v1/workspaces/$mine/collaborators", { collaborators => [$m2user] });
is($st, 200, 'an owner sets its own workspace\'s collaborators');

# shares: listed; revoked by who made them, the owner, or an admin
($st, $j) = api($gw, $m2key, 'POST', "/v1/workspaces/$mine/previews/3000/shares", {});
is($st, 201, 'a collaborator shares a preview');
my $share = $j->{id};
($st, $j) = api($gw, $mkey, 'POST', "/v1/workspaces/$mine/previews/3000/shares", {});
my $share2 = $j->{id};
($st, $j) = api($gw, $mkey, 'GET', "/v1/workspaces/$mine/previews/3000/shares");
is($st, 200, 'GET .../shares lists them');
is_deeply([sort map { $_->{id} } @{ $j->{shares} }], [sort $share, $share2], 'both');
my ($s1) = grep { $_->{id} eq $share } @{ $j->{shares} };
is($s1->{user}, $m2user, 'each with who made it');
unlike(encode_json($j), qr/replicas_share|token/, 'never a token');
($st, $j) = api($gw, $m2key, 'DELETE', "/v1/workspaces/$mine/previews/3000/shares/$share2");
is_deeply([$st, code($j)], [403, 'not_your_share'], 'a collaborator may not revoke the owner\'s share');
($st, $j) = api($gw, $admin->{key}, 'DELETE', "/v1/workspaces/$mine/previews/3000/shares/$share2");
is($st, 200, 'an admin revokes anyone\'s');
($st, $j) = api($gw, $mkey, 'DELETE', "/v1/workspaces/$mine/previews/3000/shares/$share");
is($st, 200, 'the owner revokes a collaborator\'s');

# --- a member's browser session ----------------------------------------------------
my $port = 3000;
my $up = start_upstream(addr => '127.0.0.2', port => $port, name => 'W');
put_workspace($redis, 'wsadm', state => 'awake', addr => '127.0.0.2', org => $org,
              user => $admin->{user});
put_workspace($redis, 'wsmem', state => 'awake', addr => '127.0.0.2', org => $org,
              user => $muser);
my $html = ['Accept', 'text/html'];

sub session_of {
    my ($user) = @_;
    my ($host, $path) = login_link($redis, $user, $main) =~ m{^http://([^/]+)(/.*)$};
    my $r = http_request(port => $gp, host => $host, path => $path, headers => [$html]);
    my ($sid) = join("\n", @{ $r->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
    return $sid;
}

sub ticket {
    my ($sid, $ws) = @_;
    my $to = "http://$port-$ws.$d:$gp/";
    $to =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
    return http_request(port => $gp, host => "$d:$gp", path => "/auth/preview?to=$to",
                        headers => [$html, ['Cookie', "replicas_session=$sid"]]);
}

my $msid = session_of($muser);
ok($msid, 'the member logs in');
my $r = ticket($msid, 'wsadm');
is($r->{status}, 403, 'a member\'s session gets no ticket for the admin\'s workspace');
like($r->{body}, qr/belongs to another user/, 'and is told why');
$r = ticket($msid, 'wsmem');
is($r->{status}, 302, 'but does for its own');
my $asid = session_of($admin->{user});
is(ticket($asid, 'wsmem')->{status}, 302, 'an admin\'s session for a member\'s workspace');

# a key on a preview follows the same rule as a session's tickets
sub key_open {
    my ($key, $ws, $p, $how) = @_;
    my $r = http_request(port => $gp, host => "$p-$ws.$d:$gp",
                         path => $how eq 'query' ? "/?replicas_token=$key" : '/',
                         headers => [$how eq 'query' ? () : ['Authorization', "Bearer $key"]]);
    my $c = eval { decode_json($r->{body}) };
    return [$r->{status}, $r->{status} == 403 ? code($c) : ''];
}
for my $p (3000, 3737, 6080) {
    is_deeply(key_open($mkey, 'wsadm', $p, 'bearer'), [403, 'not_your_workspace'],
              "a member's key on the admin's workspace, port $p: 403");
}
is_deeply(key_open($mkey, 'wsadm', 3000, 'query'), [403, 'not_your_workspace'],
          'with ?replicas_token= too');
is_deeply(key_open($mkey, 'wsmem', 3000, 'bearer'), [200, ''], 'its own workspace\'s preview: 200');
is_deeply(key_open($admin->{key}, 'wsmem', 3000, 'bearer'), [200, ''], 'an admin\'s key: any');
my (undef, $ekey) = control($redis, 'key', 'create', '--user', $muser, '--workspace', 'wsadm');
chomp $ekey;
is_deeply(key_open($ekey, 'wsadm', 3000, 'bearer'), [200, ''],
          'an engine\'s key (scoped) opens its workspace, whoever made it');
is_deeply(key_open($ekey, 'wsmem', 3000, 'bearer'), [403, 'forbidden'], 'and no other');
is_deeply(key_open($eve->{key}, 'wsmem', 3000, 'bearer'), [403, 'forbidden'],
          'another organisation\'s key: 403');

put_workspace($redis, 'wsadm', collaborators => encode_json([$muser]));
is(ticket($msid, 'wsadm')->{status}, 302, 'a collaborator\'s session gets one');
is_deeply(key_open($mkey, 'wsadm', 3000, 'bearer'), [200, ''], 'and a collaborator\'s key opens it');
is_deeply(key_open($m2key, 'wsadm', 3000, 'bearer'), [403, 'not_your_workspace'],
          'another member\'s still does not');

# a workspace put without a repository (the demo's): repositories is a list
(undef, undef, my $res) = api($gw, $admin->{key}, 'GET', '/v1/workspaces/wsmem');
like($res->{body}, qr/"repositories":\[\]/, 'a workspace without repositories: "repositories":[]');
# the demo itself, put the way auto/up puts it
my ($drc, $dout) = control($redis, 'workspace', 'put', 'wsdemo', '--state', 'awake',
                           '--addr', '127.0.0.2', '--org', $org);
is($drc, 0, 'the demo workspace put by replicas-control') or diag $dout;
($st, $j, $res) = api($gw, $admin->{key}, 'GET', '/v1/workspaces/wsdemo');
is($st, 200, 'and read through the API');
is(ref $j->{repositories}, 'ARRAY', 'its "repositories" a list, as every other workspace\'s');
like($res->{body}, qr/"repositories":\[/, 'a JSON list, not {}');
($st, $j) = api($gw, $admin->{key}, 'GET', '/v1/workspaces');
my ($dv) = grep { $_->{id} eq 'wsdemo' } @{ $j->{workspaces} };
is(ref $dv->{repositories}, 'ARRAY', 'in the list view too');

# --- login and logout CSRF, with the member's key and session ---------------------
{
    my $r = http_request(port => $gp, host => "$d:$gp", method => 'POST', path => '/login',
                         body => "key=$mkey&next=/",
                         headers => [$html, ['Origin', 'http://evil.example'],
                                     ['Content-Type', 'application/x-www-form-urlencoded']]);
    is($r->{status}, 403, 'POST /login with a foreign Origin and the member\'s key: 403');
    ok(!grep({ /^replicas_session=/ } @{ $r->{all}{'set-cookie'} // [] }), 'and no session is set');
    $r = http_request(port => $gp, host => "$d:$gp", method => 'POST', path => '/logout',
                      headers => [$html, ['Origin', "http://$port-wsmem.$d:$gp"],
                                  ['Cookie', "replicas_session=$msid"]]);
    is($r->{status}, 403, 'POST /logout from a preview page with the member\'s session: 403');
    is(ticket($msid, 'wsmem')->{status}, 302, 'the member is still logged in');
}

# --- Idempotency-Key: the user's own, one body ------------------------------------
my @idem = (headers => [['Idempotency-Key', 'same-key-1']]);
($st, $j) = api($gw, $admin->{key}, 'POST', '/v1/workspaces', { repository => $repo }, @idem);
is($st, 201, 'the admin creates with an Idempotency-Key');
my $iw = $j->{id};
($st, $j) = api($gw, $admin->{key}, 'POST', '/v1/workspaces', { repository => $repo }, @idem);
is_deeply([$st, $j->{id}], [200, $iw], 'repeated with the same body: the same workspace');
($st, $j) = api($gw, $admin->{key}, 'POST', '/v1/workspaces',
                { repository => $repo, agent => 'codex', environment => 'prod' }, @idem);
is_deeply([$st, code($j)], [422, 'idempotency_key_reused'], 'the same key with another body: 422');
($st, $j) = api($gw, $m2key, 'POST', '/v1/workspaces', { repository => $repo }, @idem);
is($st, 201, 'a member reusing the admin\'s Idempotency-Key gets a workspace of its own');
isnt($j->{id}, $iw, 'not the admin\'s');
is($j->{owner}, $m2user, 'owned by the member');

# --- offboarding: a disabled user, a revoked key, on two gateways -----------------
my $gw2 = start_gateway(redis => $redis, auth => 'on', keys => signing_keys_file('k1'));
my @gws = ($gw, $gw2);
put_workspace($redis, 'wsm2', state => 'awake', addr => '127.0.0.2', org => $org, user => $m2user);

sub on {
    my ($g, %o) = @_;
    return http_request(port => $g->{port}, host => "$o{host}:$g->{port}", path => $o{path} // '/',
                        method => $o{method} // 'GET', body => $o{body},
                        headers => [$o{program} ? () : $html, @{ $o{headers} // [] }]);
}

sub ticket_on {
    my ($g, $sid, $ws) = @_;
    my $to = "http://$port-$ws.$d:$g->{port}/";
    $to =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
    my $r = on($g, host => $d, path => "/auth/preview?to=$to",
               headers => [['Cookie', "replicas_session=$sid"]]);
    my ($path) = ($r->{headers}{location} // '') =~ m{^http://[^/]+(/\.replicas/auth\?.*)$};
    return ($r, $path);
}

sub cookie_for {
    my ($g, $path, $ws) = @_;
    my $r = on($g, host => "$port-" . ($ws // 'wsm2') . ".$d", path => $path);
    my ($c) = join("\n", @{ $r->{all}{'set-cookie'} // [] }) =~ /(replicas_preview=[^;]+)/;
    return $c;
}

# m2 logs in with its key (POST /login), makes a share link; m1's key session too
my $login = on($gw, host => $d, method => 'POST', path => '/login', body => "key=$m2key&next=/",
               headers => [['Origin', $main], ['Content-Type', 'application/x-www-form-urlencoded']]);
my ($m2sid) = join("\n", @{ $login->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
ok($m2sid, 'the member logs in with its key');
my $m2link = session_of($m2user);
($st, $j) = api($gw, $m2key, 'POST', "/v1/workspaces/wsm2/previews/$port/shares", {});
is($st, 201, 'and makes a share link');
my ($share_path) = $j->{url} =~ m{^http://[^/]+(/.*)$};
my (%cookie, %unused);
for my $g (@gws) {
    my ($r, $path) = ticket_on($g, $m2sid, 'wsm2');
    is($r->{status}, 302, "gateway $g->{port}: a ticket before");
    $cookie{$g} = cookie_for($g, $path);
    ok($cookie{$g}, 'exchanged for a preview cookie');
    is(on($g, host => "$port-wsm2.$d", headers => [['Cookie', $cookie{$g}]])->{status}, 200,
       'which opens the preview');
    (undef, $unused{$g}) = ticket_on($g, $m2link, 'wsm2');
    is(on($g, host => "$port-wsm2.$d", path => $share_path, program => 1)->{status}, 200,
       'the share link opens it');
    is((api($g, $m2key, 'GET', '/v1/workspaces'))[0], 200, 'the key works');
}

my ($rc, $out) = control($redis, 'user', 'disable', '--user', $m2user);
is($rc, 0, 'replicas-control user disable') or diag $out;
is($redis->cmd('HGET', "replicas:user:$m2user", 'disabled'), '1', 'the user is marked disabled');
for my $g (@gws) {
    ok(Replicas::Test::poll_until(5, sub {
        on($g, host => "$port-wsm2.$d", headers => [['Cookie', $cookie{$g}]])->{status} != 200 }),
       "gateway $g->{port}: the preview cookie no longer opens it");
    ok(Replicas::Test::poll_until(5, sub {
        on($g, host => "$port-wsm2.$d", path => $share_path, program => 1)->{status} != 200 }),
       'nor the share link');
    my ($r) = ticket_on($g, $m2sid, 'wsm2');
    like($r->{headers}{location} // '', qr{/login\?}, 'the key\'s session gets no ticket: log in again');
    ($r) = ticket_on($g, $m2link, 'wsm2');
    like($r->{headers}{location} // '', qr{/login\?}, 'nor the login link\'s session');
    is(on($g, host => "$port-wsm2.$d", path => $unused{$g})->{status}, 403,
       'a ticket given before is refused');
    is((api($g, $m2key, 'GET', '/v1/workspaces'))[0], 401, 'the key is refused');
}
my $again = on($gw, host => $d, method => 'POST', path => '/login', body => "key=$m2key&next=/",
               headers => [['Origin', $main], ['Content-Type', 'application/x-www-form-urlencoded']]);
ok(!grep({ /^replicas_session=/ } @{ $again->{all}{'set-cookie'} // [] }), 'no new session from its key');
my ($lhost, $lpath) = login_link($redis, $m2user, $main) =~ m{^http://([^/]+)(/.*)$};
$again = http_request(port => $gp, host => $lhost, path => $lpath, headers => [$html]);
ok(!grep({ /^replicas_session=/ } @{ $again->{all}{'set-cookie'} // [] }), 'nor from a login link');

# revoking a key ends the sessions made from it
$login = on($gw2, host => $d, method => 'POST', path => '/login', body => "key=$mkey&next=/",
            headers => [['Origin', "http://$d:$gw2->{port}"],
                        ['Content-Type', 'application/x-www-form-urlencoded']]);
my ($msid2) = join("\n", @{ $login->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
is((ticket_on($gw, $msid2, 'wsmem'))[0]{status}, 302, 'a session from the member\'s key');
($st, $j) = api($gw, $mkey, 'POST', "/v1/workspaces/wsmem/previews/$port/shares", {});
is($st, 201, 'and a share link made with the key');
my ($kshare) = $j->{url} =~ m{^http://[^/]+(/.*)$};
my (%kcookie, %kunused);
for my $g (@gws) {
    my (undef, $path) = ticket_on($g, $msid2, 'wsmem');
    $kcookie{$g} = cookie_for($g, $path, 'wsmem');
    is(on($g, host => "$port-wsmem.$d", headers => [['Cookie', $kcookie{$g} // '']])->{status}, 200,
       "gateway $g->{port}: the key's session's preview cookie opens the preview");
    (undef, $kunused{$g}) = ticket_on($g, $msid2, 'wsmem');
    is(on($g, host => "$port-wsmem.$d", path => $kshare, program => 1)->{status}, 200,
       'so does the key\'s share link');
}
my ($mprefix) = $mkey =~ /^rk_([^_]+)_/;
($rc, $out) = control($redis, 'key', 'revoke', $mprefix, '--org', $org);
is($rc, 0, 'key revoke') or diag $out;
for my $g (@gws) {
    like((ticket_on($g, $msid2, 'wsmem'))[0]{headers}{location} // '', qr{/login\?},
         "gateway $g->{port}: the key's session is gone");
    ok(Replicas::Test::poll_until(5, sub {
        on($g, host => "$port-wsmem.$d", headers => [['Cookie', $kcookie{$g}]])->{status} != 200 }),
       'its preview cookie no longer opens the preview');
    ok(Replicas::Test::poll_until(5, sub {
        on($g, host => "$port-wsmem.$d", path => $kshare, program => 1)->{status} != 200 }),
       'nor its share link');
    is(on($g, host => "$port-wsmem.$d", path => $kunused{$g})->{status}, 403,
       'a ticket given before is refused');
    is_deeply(key_open($mkey, 'wsmem', 3000, 'bearer'), [401, ''], 'nor does the key itself open it');
}
is((ticket_on($gw, $msid, 'wsmem'))[0]{status}, 302, 'the login link\'s session lives on');

# --- the admin API for offboarding: the same script as replicas-control ----------
my (undef, $m3user) = control($redis, 'user', 'create', '--org', $org, '--email', 'o@example.com');
chomp $m3user;
my (undef, $m3key) = control($redis, 'key', 'create', '--user', $m3user);
chomp $m3key;
put_workspace($redis, 'wsm3', state => 'awake', addr => '127.0.0.2', org => $org, user => $m3user);
$login = on($gw, host => $d, method => 'POST', path => '/login', body => "key=$m3key&next=/",
            headers => [['Origin', $main], ['Content-Type', 'application/x-www-form-urlencoded']]);
my ($m3sid) = join("\n", @{ $login->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
is((ticket_on($gw, $m3sid, 'wsm3'))[0]{status}, 302, 'a third member\'s session gets tickets');
($st, $j) = api($gw, $m3key, 'POST', "/v1/workspaces/wsm3/previews/$port/shares", {});
my ($m3share) = $j->{url} =~ m{^http://[^/]+(/.*)$};

($st, $j) = api($gw, $admin->{key}, 'GET', '/v1/users');
is($st, 200, 'GET /v1/users: an admin lists the users');
my %u = map { $_->{id} => $_ } @{ $j->{users} };
is_deeply($u{$m3user}, { id => $m3user, email => 'o@example.com', role => 'member',
                         disabled => JSON::PP::false }, 'id, email, role, disabled');
is($u{$admin->{user}}{role}, 'admin', 'the admin');
is($u{$m2user}{disabled}, JSON::PP::true, 'the user disabled by replicas-control');
ok(!exists $u{$eve->{user}}, 'no user of another organisation');
my ($m3prefix) = $m3key =~ /^rk_([^_]+)_/;
unlike(encode_json($j), qr/rk_|$m3prefix|[0-9a-f]{64}/, 'never a key, its prefix or hash');
for my $case (['GET', '/v1/users'], ['POST', "/v1/users/$m3user/disable"],
              ['DELETE', "/v1/users/$m3user"]) {
    ($st, $j) = api($gw, $m3key, @$case);
    is_deeply([$st, code($j)], [403, 'forbidden'], "a member: $case->[0] $case->[1]: 403");
}
($st, $j) = api($gw, $admin->{key}, 'POST', '/v1/users/nosuchuser1/disable');
is_deeply([$st, code($j)], [404, 'user_not_found'], 'an unknown user: 404');
($st, $j) = api($gw, $admin->{key}, 'POST', "/v1/users/$eve->{user}/disable");
is_deeply([$st, code($j)], [404, 'user_not_found'], 'another organisation\'s user: 404');
($st, $j) = api($gw, $admin->{key}, 'DELETE', "/v1/users/$admin->{user}");
is_deeply([$st, code($j)], [409, 'cannot_offboard_self'], 'an admin does not offboard itself');
is((api($gw, $eve->{key}, 'GET', '/v1/workspaces'))[0], 200, 'eve untouched');

($st, $j) = api($gw, $admin->{key}, 'POST', "/v1/users/$m3user/disable");
is_deeply([$st, $j], [200, { id => $m3user, disabled => JSON::PP::true }],
          'POST /v1/users/{id}/disable');
is($redis->cmd('HGET', "replicas:user:$m3user", 'disabled'), '1', 'marked disabled');
for my $g (@gws) {
    is((api($g, $m3key, 'GET', '/v1/workspaces'))[0], 401, "gateway $g->{port}: its key is refused");
    like((ticket_on($g, $m3sid, 'wsm3'))[0]{headers}{location} // '', qr{/login\?},
         'its session is gone');
    ok(Replicas::Test::poll_until(5, sub {
        on($g, host => "$port-wsm3.$d", path => $m3share, program => 1)->{status} != 200 }),
       'its share link is dead');
}
($st, $j) = api($gw, $admin->{key}, 'DELETE', "/v1/users/$m3user");
is_deeply([$st, $j], [200, { id => $m3user, deleted => JSON::PP::true }], 'DELETE /v1/users/{id}');
is($redis->cmd('EXISTS', "replicas:user:$m3user"), 0, 'the user is gone');
($st, $j) = api($gw, $admin->{key}, 'GET', '/v1/users');
ok(!grep({ $_->{id} eq $m3user } @{ $j->{users} }), 'and no longer listed');

# --- quotas: a member's share within the organisation's ------------------------
{
    my $qa = new_identity($redis);
    my $qo = $qa->{org};
    my (undef, $qu) = control($redis, 'user', 'create', '--org', $qo, '--email', 'q@example.com');
    chomp $qu;
    my (undef, $qk) = control($redis, 'key', 'create', '--user', $qu);
    chomp $qk;
    $redis->cmd('HSET', "replicas:org:$qo", 'max_awake', 4, 'user_awake_max', 2,
                'user_workspaces_max', 3, 'workspaces_max', 5);
    my @got;
    for (1 .. 6) {
        my ($s, $jj) = api($gw, $qk, 'POST', '/v1/workspaces', { repository => $repo });
        push @got, [$s, code($jj), $jj->{id}];
    }
    is_deeply([map { $_->[0] } @got], [201, 201, (429) x 4], 'a member: 2 creates of 6 (its awake share)');
    is($got[2][1], 'user_awake_limit', 'then 429 user_awake_limit');
    my $e = (api($gw, $qk, 'POST', '/v1/workspaces', { repository => $repo }))[1];
    like($e->{error}{message}, qr/2 workspaces awake, the limit per user/, 'with a message saying why');
    my ($s, $jj) = api($gw, $qa->{key}, 'POST', '/v1/workspaces', { repository => $repo });
    is($s, 201, 'the admin still creates: one member did not use up the organisation');
    my $admin_ws = $jj->{id};
    # one of the member's workspaces asleep: room for a third, awake
    my $slept = $got[0][2];
    $redis->cmd('HSET', "replicas:ws:$slept", 'state', 'sleeping');
    $redis->cmd('SREM', "replicas:org-awake:$qo", $slept);
    ($s, $jj) = api($gw, $qk, 'POST', '/v1/workspaces', { repository => $repo });
    is($s, 201, 'one asleep: the member creates a third');
    ($s, $jj) = api($gw, $qk, 'POST', "/v1/workspaces/$slept/wake");
    is_deeply([$s, code($jj)], [429, 'user_awake_limit'], 'and its wake is refused: 429 user_awake_limit');
    is($redis->cmd('HGET', "replicas:ws:$slept", 'state'), 'sleeping', 'it stays asleep');
    my $pv = http_request(port => $gp, host => "3000-$slept.$d:$gp", path => '/',
                          headers => [['Authorization', "Bearer $qk"]]);
    is($pv->{status}, 429, 'a preview request with the key does not wake it either');
    is(http_json($pv)->{error}{code}, 'user_awake_limit', '429 user_awake_limit');
    is($redis->cmd('HGET', "replicas:ws:$slept", 'state'), 'sleeping', 'still asleep');
    # the total per user (3), with one put to sleep so the awake share has room
    my $third = $jj->{id};
    $redis->cmd('HSET', "replicas:ws:$got[1][2]", 'state', 'sleeping');
    $redis->cmd('SREM', "replicas:org-awake:$qo", $got[1][2]);
    ($s, $jj) = api($gw, $qk, 'POST', '/v1/workspaces', { repository => $repo });
    is_deeply([$s, code($jj)], [429, 'user_workspace_limit'], 'a fourth workspace: 429 user_workspace_limit');
    like($jj->{error}{message}, qr/3 workspaces in this organisation/, 'saying the limit');
    ($s, $jj) = api($gw, $qa->{key}, 'POST', '/v1/workspaces', { repository => $repo });
    is($s, 201, 'the admin: its fifth workspace of the organisation');
    ($s, $jj) = api($gw, $qa->{key}, 'POST', '/v1/workspaces', { repository => $repo });
    is_deeply([$s, code($jj)], [429, 'workspace_limit'], 'a sixth: 429 workspace_limit (the organisation\'s)');
}

# the finding's way: many creates at once (one script each: no race lets more in)
{
    my $pa = new_identity($redis);
    my (undef, $pu) = control($redis, 'user', 'create', '--org', $pa->{org}, '--email', 'p@example.com');
    chomp $pu;
    my (undef, $pk) = control($redis, 'key', 'create', '--user', $pu);
    chomp $pk;
    $redis->cmd('HSET', "replicas:org:$pa->{org}", 'max_awake', 4, 'user_awake_max', 2);
    my @kids;
    for my $i (1 .. 12) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my ($s) = api($gw, $pk, 'POST', '/v1/workspaces', { repository => $repo });
            print $wr "$s\n";
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    my %n;
    for (@kids) {
        my ($pid, $rd) = @$_;
        my $s = <$rd> // 'none';
        chomp $s;
        $n{$s}++;
        waitpid $pid, 0;
    }
    is_deeply(\%n, { 201 => 2, 429 => 10 }, '12 creates at once by a member: 2 made (its share), 10 refused');
    my ($s) = api($gw, $pa->{key}, 'POST', '/v1/workspaces', { repository => $repo });
    is($s, 201, 'the admin still creates');
}

# --- rate limits: per user as well as per key ----------------------------------
{
    my $rg = start_gateway(redis => $redis, auth => 'on', keys => signing_keys_file('k1'), rate => 3);
    my $ra = new_identity($redis);
    my (undef, $rk2) = control($redis, 'key', 'create', '--user', $ra->{user});
    chomp $rk2;
    sleep 61 - time % 60 if time % 60 > 50;     # all in one minute's window
    my @st = map { (api($rg, $_, 'GET', '/v1/workspaces'))[0] } $ra->{key}, $ra->{key}, $rk2;
    is_deeply(\@st, [200, 200, 200], 'two keys of one user: 3 requests, the budget');
    my ($s, $jj) = api($rg, $rk2, 'GET', '/v1/workspaces');
    is_deeply([$s, code($jj)], [429, 'rate_limited'], 'the second key\'s 2nd request: 429, the user\'s budget is spent');
    like($jj->{error}{message}, qr/user/, 'saying it is the user\'s budget');
    my $rb = new_identity($redis, org => $ra->{org}, email => 'rb\@example.com');
    is((api($rg, $rb->{key}, 'GET', '/v1/workspaces'))[0], 200, 'another user: its own budget');
}

# --- preview requests with a key count against the same budgets -----------------
{
    my $rate = 6;
    my $rg = start_gateway(redis => $redis, auth => 'on', keys => signing_keys_file('k1'), rate => $rate);
    my $pa = new_identity($redis);
    my (undef, $pk2) = control($redis, 'key', 'create', '--user', $pa->{user});
    chomp $pk2;
    my $pb = new_identity($redis, org => $pa->{org}, email => 'pb@example.com');
    put_workspace($redis, 'wsrate', state => 'awake', addr => '127.0.0.2', org => $pa->{org},
                  user => $pa->{user});
    my $preview = sub {
        my ($key) = @_;
        return http_request(port => $rg->{port}, host => "$port-wsrate.$d:$rg->{port}", path => '/',
                            headers => [['Authorization', "Bearer $key"]]);
    };
    my ($pprefix) = $pa->{key} =~ /^rk_([^_]+)_/;
    sleep 61 - time % 60 if time % 60 > 40;     # all in one minute's window
    my $minute = int(time / 60);

    my @st = map { $preview->($pa->{key})->{status} } 1 .. 3;
    is_deeply(\@st, [200, 200, 200], 'a key below its limit: its previews answer');
    ok(Replicas::Test::poll_until(5, sub {
        ($redis->cmd('GET', "replicas:rate:$pprefix:$minute") // 0) >= 3 }),
       'counted against the key (in batches, no Redis call per request)');
    ok(($redis->cmd('GET', "replicas:rate-user:$pa->{user}:$minute") // 0) >= 3,
       'and against its user');
    is($redis->cmd('GET', "replicas:rate:$pprefix:$minute"), 3, 'each request once');
    # the API sees the previews: 3 calls make 6, the budget; the 7th is refused
    @st = map { (api($rg, $pa->{key}, 'GET', '/v1/workspaces'))[0] } 1 .. 3;
    is_deeply(\@st, [200, 200, 200], 'three API calls: the budget of 6 with the previews');
    my ($s, $jj) = api($rg, $pa->{key}, 'GET', '/v1/workspaces');
    is_deeply([$s, code($jj)], [429, 'rate_limited'], 'the next API call: 429 (the previews counted)');
    my $r;
    ok(Replicas::Test::poll_until(5, sub { ($r = $preview->($pa->{key}))->{status} == 429 }),
       'a key over its limit: 429 on a preview host');
    is(code(http_json($r)), 'rate_limited', 'rate_limited, as JSON');
    like($r->{headers}{'content-type'} // '', qr{application/json}, 'a program\'s answer');
    ok(($r->{headers}{'retry-after'} // 0) >= 1 && $r->{headers}{'retry-after'} <= 60,
       'with Retry-After: the end of the minute');
    $r = $preview->($pk2);
    is($r->{status}, 429, 'a second key of the same user, never used: 429 at once (the user\'s budget)');
    is(code(http_json($r)), 'rate_limited', 'rate_limited');
    is($preview->($pb->{key})->{status}, 200, 'another user of the organisation: its own budget');
    # another gateway on the same Redis knows it from the key's first lookup
    my $rg2 = start_gateway(redis => $redis, auth => 'on', keys => signing_keys_file('k1'), rate => $rate);
    $r = http_request(port => $rg2->{port}, host => "$port-wsrate.$d:$rg2->{port}", path => '/',
                      headers => [['Authorization', "Bearer $pa->{key}"]]);
    is($r->{status}, 429, 'another gateway refuses the spent key at once');
}

done_testing();
