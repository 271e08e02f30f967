# The dashboard's Settings (issue 13): the API it stands on and the page.
#
# By HTTP: GET/POST /v1/keys and DELETE /v1/keys/{prefix} (a key made by
# the gateway works at once, is listed by prefix only, and stops working
# when revoked, with the session made from it; control's key list and
# revoke treat it like their own), POST /v1/users (409 on a taken
# email), POST /v1/users/{id}/login-link (a link that logs in once),
# PATCH /v1/environments/{name} (a merge: a variable added or removed
# without sending the others' values); for each, an admin, a member and a
# key bound to a workspace; no environment value in any answer, file
# sizes true.  In Chromium (t/browser/settings.js): an admin's and a
# member's Settings page.  Screenshots go to $REPLICAS_SHOTS (or the
# test's temporary folder).

use strict;
use warnings;
use utf8;
use lib 't/lib';
use Encode ();
use Digest::SHA ();
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir start_redis http_request repo_root tmpdir);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(control new_identity api login_link);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', dashboard => 1);
my ($d, $gp) = ($gw->{domain}, $gw->{port});
my $main = "http://$d:$gp";

my $admin = new_identity($redis, email => 'ada@example.com');
my $org = $admin->{org};
my (undef, $muser) = control($redis, 'user', 'create', '--org', $org, '--email', 'mo@example.com');
chomp $muser;
my (undef, $mkey) = control($redis, 'key', 'create', '--user', $muser);
chomp $mkey;
put_workspace($redis, 'wsadmin1', state => 'awake', addr => '127.0.0.2', org => $org,
              user => $admin->{user});
put_workspace($redis, 'wsmember1', state => 'awake', addr => '127.0.0.2', org => $org,
              user => $muser);
my (undef, $bound) = control($redis, 'key', 'create', '--user', $admin->{user},
                             '--workspace', 'wsadmin1');
chomp $bound;
my $other = new_identity($redis, email => 'eve@example.com');

sub code { my ($j) = @_; return $j && $j->{error} ? $j->{error}{code} : '' }
my @answers;      # every body the API answered, searched for values at the end
sub call {
    my ($key, @rest) = @_;
    my ($st, $j, $res) = api($gw, $key, @rest);
    push @answers, $res->{body} // '';
    return ($st, $j, $res);
}

# --- API keys --------------------------------------------------------------------
my ($st, $j) = call($admin->{key}, 'GET', '/v1/keys');
is($st, 200, 'an admin lists the keys');
my %by_user = map { ($_->{user} => 1) } @{ $j->{keys} };
ok($by_user{$admin->{user}} && $by_user{$muser}, 'the organisation\'s, every user\'s');
ok(!grep({ ($_->{user} // '') eq $other->{user} } @{ $j->{keys} }), 'not another organisation\'s');
my ($row) = grep { $_->{scope} eq 'workspace' } @{ $j->{keys} };
is($row && $row->{workspace}, 'wsadmin1', 'a bound key shows its workspace');
ok((grep { $_->{current} } @{ $j->{keys} }) == 1, 'the key asking is marked');
unlike(encode_json($j), qr/rk_[a-z0-9]{8}_|[0-9a-f]{64}/, 'no key and no hash in the list');
ok(defined $j->{keys}[0]{created}, 'each with its creation');

($st, $j) = call($mkey, 'GET', '/v1/keys');
is($st, 200, 'a member lists keys');
is_deeply([map { $_->{user} } @{ $j->{keys} }], [$muser], 'only their own');
ok($j->{keys}[0]{last_used}, 'its last use recorded (this call)');

($st, $j) = call($bound, 'GET', '/v1/keys');
is_deeply([$st, code($j)], [403, 'forbidden'], 'a bound key may not list keys');

# create
($st, $j) = call($mkey, 'POST', '/v1/keys');
my $key_answer = $#answers;
is($st, 201, 'a member creates a key for themself (no body)');
my $new = $j->{key} // '';
like($new, qr/^rk_([a-z0-9]{8})_[A-Za-z0-9_-]{43}$/, 'the key, in the answer once');
my ($nprefix) = $new =~ /^rk_([a-z0-9]{8})_/;
is($j->{prefix}, $nprefix, 'with its prefix');
is_deeply([$j->{user}, $j->{scope}, $j->{workspace}], [$muser, 'user', undef], 'theirs, unbound');
($st, $j) = call($new, 'GET', '/v1/workspaces');
is($st, 200, 'the new key works at once');
is($j->{caller}{user}, $muser, 'as its user');
($st, $j) = call($mkey, 'GET', '/v1/keys');
my ($listed) = grep { $_->{prefix} eq $nprefix } @{ $j->{keys} };
ok($listed && !exists $listed->{key}, 'then listed by prefix only');
unlike(join('', @answers[grep { $_ != $key_answer } 0 .. $#answers]), qr/\Q$new\E/,
       'the key is in no other answer');
is($redis->cmd('HGET', "replicas:apikey:" . sha256_of($new), 'prefix'), $nprefix,
   'stored as control stores it: by its SHA-256');
my ($crc, $clist) = control($redis, 'key', 'list', '--org', $org);
like($clist, qr/^\Q$nprefix\E\s+\Q$muser\E\s+user\s+\d+$/m, 'control\'s key list shows it');

($st, $j) = call($mkey, 'POST', '/v1/keys', { user => $admin->{user} });
is_deeply([$st, code($j)], [403, 'forbidden'], 'a member may not create a key for another user');
($st, $j) = call($mkey, 'POST', '/v1/keys', { workspace => 'wsadmin1' });
is_deeply([$st, code($j)], [403, 'not_your_workspace'], 'nor bind one to another\'s workspace');
($st, $j) = call($mkey, 'POST', '/v1/keys', { workspace => 'wsmember1' });
is_deeply([$st, $j->{scope}, $j->{workspace}], [201, 'workspace', 'wsmember1'],
          'a member binds a key to their own workspace');
my $mbound = $j->{key};
($st, $j) = call($mbound, 'GET', '/v1/workspaces/wsmember1/previews');
is($st, 200, 'the bound key works on its workspace\'s previews');
($st, $j) = call($mbound, 'GET', '/v1/workspaces');
is_deeply([$st, code($j)], [403, 'forbidden'], 'and nowhere else');
($st, $j) = call($admin->{key}, 'POST', '/v1/keys', { user => $muser });
is_deeply([$st, $j->{user}], [201, $muser], 'an admin creates a key for a member');
my $akm = $j->{key};
($st, $j) = call($admin->{key}, 'POST', '/v1/keys', { user => $other->{user} });
is_deeply([$st, code($j)], [404, 'user_not_found'], 'not for another organisation\'s user');
($st, $j) = call($admin->{key}, 'POST', '/v1/keys', { workspace => 'nosuchws' });
is_deeply([$st, code($j)], [404, 'workspace_not_found'], 'nor bound to an unknown workspace');
($st, $j) = call($bound, 'POST', '/v1/keys');
is_deeply([$st, code($j)], [403, 'forbidden'], 'a bound key may not create keys');

# revoke: the key and what was made from it end
my $r = http_request(port => $gp, host => "$d:$gp", method => 'POST', path => '/login',
                     headers => [['Content-Type', 'application/x-www-form-urlencoded']],
                     body => "key=$new");
my ($ksid) = join("\n", @{ $r->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
ok($ksid, 'a browser session made from the new key');
sub with_session {
    my ($sid, $method, $path, $body) = @_;
    my $res = http_request(port => $gp, host => "$d:$gp", method => $method, path => $path,
                           headers => [['Cookie', "replicas_session=$sid"], ['Origin', $main],
                                       defined $body ? (['Content-Type', 'application/json']) : ()],
                           body => defined $body ? encode_json($body) : undef);
    push @answers, $res->{body} // '';
    return ($res->{status}, eval { decode_json($res->{body}) }, $res);
}
($st) = with_session($ksid, 'GET', '/v1/workspaces');
is($st, 200, 'the session works');
($st, $j) = call($admin->{key}, 'GET', '/v1/keys');
my ($akey) = grep { $_->{user} eq $admin->{user} && $_->{scope} eq 'user' } @{ $j->{keys} };
($st, $j) = call($mkey, 'DELETE', "/v1/keys/$akey->{prefix}");
is_deeply([$st, code($j)], [403, 'not_your_key'], 'a member may not revoke another\'s key');
($st, $j) = call($mkey, 'DELETE', '/v1/keys/zzzzzzzz');
is_deeply([$st, code($j)], [404, 'key_not_found'], 'an unknown prefix: 404');
($st, $j) = call($bound, 'DELETE', "/v1/keys/$nprefix");
is_deeply([$st, code($j)], [403, 'forbidden'], 'a bound key may not revoke');
($st, $j) = call($mkey, 'DELETE', "/v1/keys/$nprefix");
is_deeply([$st, $j], [200, { prefix => $nprefix, revoked => JSON::PP::true }],
          'the member revokes their own key');
($st, $j) = call($new, 'GET', '/v1/workspaces');
is_deeply([$st, code($j)], [401, 'unauthorized'], 'it stops working at once');
($st) = with_session($ksid, 'GET', '/v1/workspaces');
is($st, 401, 'so does the session made from it');
is($redis->cmd('EXISTS', "replicas:apikey:" . sha256_of($new)), 0, 'its record is gone');
($st, $j) = call($mkey, 'DELETE', "/v1/keys/$nprefix");
is($st, 404, 'revoked twice: 404');
# an admin revokes a member's; control revokes one the API made
($st, $j) = call($admin->{key}, 'GET', '/v1/keys');
my ($akmrow) = grep { $akm =~ /^rk_\Q$_->{prefix}\E_/ } @{ $j->{keys} };
($st, $j) = call($admin->{key}, 'DELETE', "/v1/keys/$akmrow->{prefix}");
is($st, 200, 'an admin revokes a member\'s key');
is((call($akm, 'GET', '/v1/workspaces'))[0], 401, 'which stops working');
($st, $j) = call($mkey, 'POST', '/v1/keys');
my ($cprefix) = $j->{key} =~ /^rk_([a-z0-9]{8})_/;
($crc) = control($redis, 'key', 'revoke', $cprefix, '--org', $org);
is($crc, 0, 'control revokes a key the API made');
is((call($j->{key}, 'GET', '/v1/workspaces'))[0], 401, 'and it stops working');

# --- members -----------------------------------------------------------------------
($st, $j) = call($admin->{key}, 'POST', '/v1/users', { email => 'newbie@example.com' });
is($st, 201, 'an admin adds a user');
my $nuser = $j->{id};
like($nuser // '', qr/^[a-z0-9]{12}$/, 'with a new id');
is_deeply([$j->{email}, $j->{role}, $j->{disabled}], ['newbie@example.com', 'member', JSON::PP::false],
          'a member by default');
is($redis->cmd('HGET', "replicas:user:$nuser", 'org'), $org, 'in the organisation');
is($redis->cmd('SISMEMBER', "replicas:org-users:$org", $nuser), 1, 'listed in its users');
($st, $j) = call($admin->{key}, 'POST', '/v1/users', { email => 'NEWBIE@example.com', role => 'admin' });
is_deeply([$st, code($j)], [409, 'email_taken'], 'the same email again (any case): 409');
($st, $j) = call($admin->{key}, 'POST', '/v1/users', { email => 'boss@example.com', role => 'admin' });
is_deeply([$st, $j->{role}], [201, 'admin'], 'an admin adds an admin');
($st, $j) = call($other->{key}, 'POST', '/v1/users', { email => 'newbie@example.com' });
is($st, 201, 'another organisation may have the same email');
($st, $j) = call($mkey, 'POST', '/v1/users', { email => 'x@example.com' });
is_deeply([$st, code($j)], [403, 'forbidden'], 'a member may not add users');
($st, $j) = call($bound, 'POST', '/v1/users', { email => 'y@example.com' });
is_deeply([$st, code($j)], [403, 'forbidden'], 'nor a bound key');
($st, $j) = call($admin->{key}, 'GET', '/v1/users');
ok((grep { $_->{id} eq $nuser } @{ $j->{users} }), 'the new user is listed');

# a login link, made by the API, logs in once
($st, $j) = call($admin->{key}, 'POST', "/v1/users/$nuser/login-link");
my $link_answer = $#answers;
is($st, 201, 'an admin makes a login link for the new user');
my $link = $j->{url} // '';
like($link, qr{^\Q$main\E/login\?token=[A-Za-z0-9_-]{43}$}, 'on the main site, as control makes them');
ok($j->{expires_at} - time >= 890 && $j->{expires_at} - time <= 900, 'for 15 minutes');
my ($token) = $link =~ /token=(.*)$/;
my $lttl = $redis->cmd('TTL', 'replicas:login:' . sha256_of($token));
ok($lttl > 890 && $lttl <= 900, 'stored hashed, with control\'s TTL');
my $path = $link =~ s{^\Q$main\E}{}r;
$r = http_request(port => $gp, host => "$d:$gp", path => $path, headers => [['Accept', 'text/html']]);
is($r->{status}, 303, 'the link logs in');
my ($nsid) = join("\n", @{ $r->{all}{'set-cookie'} // [] }) =~ /replicas_session=([^;]+)/;
($st, $j) = with_session($nsid, 'GET', '/v1/workspaces');
is_deeply([$st, $j->{caller}{user}], [200, $nuser], 'as the new user');
$r = http_request(port => $gp, host => "$d:$gp", path => $path, headers => [['Accept', 'text/html']]);
isnt($r->{status}, 303, 'a second time it does not');
ok(!grep({ /\Q$token\E/ } @answers[grep { $_ != $link_answer } 0 .. $#answers]),
   'the link is in no other answer');
($st, $j) = call($mkey, 'POST', "/v1/users/$muser/login-link");
is($st, 201, 'a member makes a login link for themself');
($st, $j) = call($mkey, 'POST', "/v1/users/$nuser/login-link");
is_deeply([$st, code($j)], [403, 'forbidden'], 'not for another user');
($st, $j) = call($admin->{key}, 'POST', "/v1/users/$other->{user}/login-link");
is_deeply([$st, code($j)], [404, 'user_not_found'], 'nor for another organisation\'s');
($st, $j) = call($bound, 'POST', "/v1/users/$admin->{user}/login-link");
is_deeply([$st, code($j)], [403, 'forbidden'], 'a bound key makes none');
call($admin->{key}, 'POST', "/v1/users/$nuser/disable");
($st, $j) = call($admin->{key}, 'POST', "/v1/users/$nuser/login-link");
is_deeply([$st, code($j)], [409, 'user_disabled'], 'a disabled user gets no link');

# --- environments: names and sizes, never values -----------------------------------
my $V = 'SEKRIT-' . join('', map { chr(97 + int rand 26) } 1 .. 12);
my $file = "line one\nünïcödé $V\n";
my $file_bytes = length(Encode::encode_utf8($file));
($st, $j) = call($admin->{key}, 'PUT', '/v1/environments/dev',
                 JSON::PP->new->utf8->encode(
                     { variables => { API_TOKEN => "$V-a", OTHER => "$V-o" },
                       files => { 'config/app.env' => $file, 'empty.txt' => '' } }));
is($st, 200, 'an admin writes an environment');
is_deeply($j->{variables}, ['API_TOKEN', 'OTHER'], 'its variables by name');
is_deeply($j->{files}, [{ path => 'config/app.env', size => $file_bytes },
                        { path => 'empty.txt', size => 0 }], 'its files with their sizes in bytes');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev',
                 { variables => { NEW_ONE => "$V-n", OTHER => undef } });
is($st, 200, 'PATCH merges');
is_deeply($j->{variables}, ['API_TOKEN', 'NEW_ONE'], 'one added, one removed, one kept');
is(scalar @{ $j->{files} }, 2, 'the files kept');
like($redis->cmd('HGET', "replicas:env:$org:dev", 'var:API_TOKEN'), qr/^v1\./, 'the kept value still sealed');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev',
                 { files => { 'empty.txt' => undef }, usable_by => [$muser] });
is_deeply([$st, [map { $_->{path} } @{ $j->{files} }], $j->{usable_by}],
          [200, ['config/app.env'], [$muser]], 'a file removed, usable_by set');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev', { variables => { X => 'y' } });
is_deeply($j->{usable_by}, [$muser], 'a PATCH without usable_by keeps it');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/nosuch', { variables => { X => 'y' } });
is_deeply([$st, code($j)], [404, 'environment_not_found'], 'PATCH does not create');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev', { variables => { LD_PRELOAD => 'x' } });
is_deeply([$st, code($j)], [400, 'invalid_request'], 'a loader variable needs allow_loader_variables');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev', { variables => { X => 1 } });
is_deeply([$st, $j->{error}{message}], [400, 'variable X: the value must be a string (or null to remove it)'],
          'a value is a string or null');
($st, $j) = call($admin->{key}, 'PUT', '/v1/environments/dev', { variables => { X => undef } });
is_deeply([$st, $j->{error}{message}], [400, 'variable X: the value must be a string'], 'PUT takes no null');
($st, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev',
                 { variables => { map { ("V$_" => 'x') } 1 .. 198 } });
is_deeply([$st, $j->{error}{message}], [400, 'an environment has at most 200 variables'],
          'the limits count what is stored too');
($st, $j) = call($mkey, 'PATCH', '/v1/environments/dev', { variables => { X => "$V-m" } });
is_deeply([$st, code($j)], [403, 'forbidden'], 'a member may not change an environment');
($st, $j) = call($bound, 'PATCH', '/v1/environments/dev', { variables => { X => "$V-b" } });
is_deeply([$st, code($j)], [403, 'forbidden'], 'nor a bound key');
is($redis->cmd('HGET', "replicas:env:$org:dev", 'var:X') =~ /^v1\./ ? 1 : 0, 1, 'X as the admin left it');
($st, $j) = call($mkey, 'GET', '/v1/environments/dev');
is_deeply([$st, $j->{variables}], [200, ['API_TOKEN', 'NEW_ONE', 'X']], 'the member reads the names');
# a broken body does not echo the value near the error (jansson quotes it)
(undef, $j) = call($admin->{key}, 'PATCH', '/v1/environments/dev', qq({"variables":{"A":"$V-broken));
is(code($j), 'invalid_json', 'a body that is not JSON: 400');
unlike($j->{error}{message}, qr/SEKRIT/, 'its message quotes no value: ' . $j->{error}{message});
(undef, $j) = call($admin->{key}, 'PUT', '/v1/environments/dev', qq({"variables":{"A":"$V-x" x}}));
unlike($j->{error}{message}, qr/SEKRIT/, 'nor for a PUT');
($st, $j) = call($admin->{key}, 'GET', '/v1/environments');
is($st, 200, 'the list');
unlike(join('', @answers), qr/SEKRIT/, 'no value of any environment in any answer');

# --- validation -----------------------------------------------------------------------
for my $c (
    ['POST', '/v1/keys', { user => 'Bad!' }, '"user" must be a user id (lowercase letters and digits)'],
    ['POST', '/v1/keys', { workspace => 7 }, '"workspace" must be a string'],
    ['POST', '/v1/keys', { scope => 'all' }, 'unknown field "scope"'],
    ['POST', '/v1/users', undef, 'this request needs a JSON body'],
    ['POST', '/v1/users', {}, '"email" is required'],
    ['POST', '/v1/users', { email => 'no-at-sign' },
     '"email" must be an email address (name@domain, at most 254 characters, no spaces)'],
    ['POST', '/v1/users', { email => 'a b@example.com' },
     '"email" must be an email address (name@domain, at most 254 characters, no spaces)'],
    ['POST', '/v1/users', { email => 'a@example.com', role => 'owner' }, '"role" must be member or admin'],
) {
    my ($m, $p, $b, $msg) = @$c;
    ($st, $j) = call($admin->{key}, $m, $p, $b);
    is_deeply([$st, $j->{error}{message}], [400, $msg], "$m $p: $msg");
}
($st, $j) = call($admin->{key}, 'DELETE', '/v1/keys/short');
is_deeply([$st, code($j)], [404, 'not_found'], 'a prefix not of 8 [a-z0-9]: no such endpoint');
($st, $j) = call($admin->{key}, 'PUT', '/v1/keys');
is_deeply([$st, code($j)], [405, 'method_not_allowed'], 'PUT /v1/keys: 405');
($st, $j) = call($admin->{key}, 'GET', "/v1/users/$muser/login-link");
is($st, 405, 'GET of a login link: 405');

# --- offboarding ends the keys a member bound, not a workspace's engine key -----------
my (undef, $engine) = control($redis, 'key', 'create', '--user', $muser, '--workspace', 'wsmember1');
chomp $engine;
my ($eprefix) = $engine =~ /^rk_([a-z0-9]{8})_/;
$redis->cmd('HSET', 'replicas:ws:wsmember1', 'engine_key', $eprefix);   # as control's create does
is((call($mbound, 'GET', '/v1/workspaces/wsmember1/previews'))[0], 200, 'before: the member\'s bound key works');
($st, $j) = call($admin->{key}, 'GET', '/v1/keys');
my %engine = map { ($_->{prefix} => $_->{engine}) } @{ $j->{keys} };
ok($engine{$eprefix} && !grep({ $engine{$_} } grep { $_ ne $eprefix } keys %engine),
   'the list names the workspace\'s engine key, and only it');
($st) = call($admin->{key}, 'POST', "/v1/users/$muser/disable");
is($st, 200, 'the admin disables the member');
is((call($mbound, 'GET', '/v1/workspaces/wsmember1/previews'))[0], 401,
   'a key the member bound to their workspace ends with them');
is((call($engine, 'GET', '/v1/workspaces/wsmember1/previews'))[0], 200,
   'the workspace\'s engine key stays (the workspace is the organisation\'s)');

# --- the page, in Chromium --------------------------------------------------------------
my $unit = qx{node --test @{[ repo_root() ]}/ngx_replicas_module/dashboard/test/ 2>&1};
is($?, 0, 'the dashboard\'s unit tests pass (node --test)') or diag $unit;
for my $view ('/settings', '/settings/keys', '/settings/members', '/settings/environments/dev') {
    my $res = http_request(port => $gp, host => "$d:$gp", path => $view, headers => [['Accept', 'text/html']]);
    ok($res->{status} == 200 && $res->{body} =~ m{/app\.js}, "$view is the app (a reload keeps the view)");
}
my $shots = $ENV{REPLICAS_SHOTS} // tmpdir() . '/shots';
mkdir $shots;
my $VALUE = 'BROWSER-SEKRIT-' . join('', map { chr(97 + int rand 26) } 1 .. 12);
local $ENV{NODE_PATH} = objs_dir() . '/node/node_modules';
local $ENV{CHROMIUM} = '/usr/bin/chromium';
local $ENV{MAIN} = $main;
local $ENV{ADMIN_LINK} = login_link($redis, $admin->{user}, $main);
local $ENV{VALUE} = $VALUE;
local $ENV{HIDDEN_ENV} = 'admins-only';
($st) = api($gw, $admin->{key}, 'PUT', '/v1/environments/admins-only', { variables => { Z => 'z' } });
is($st, 200, 'an environment for admins only');
local $ENV{SHOTS} = $shots;
my $out = qx{node @{[ repo_root() ]}/t/browser/settings.js 2>&1};
is($?, 0, 'the browser script ran') or diag($out);
my $seen = eval { decode_json((split /\n/, $out)[-1]) } // {};
is($seen->{error}, undef, 'the browser went through every step') or diag(explain($seen));
is($seen->{settings_url}, "$main/settings", 'the header\'s Settings link opens /settings');
is_deeply([$seen->{keys_url}, $seen->{keys_url_reloaded}], ["$main/settings/keys", "$main/settings/keys"],
          'API keys at /settings/keys, kept by a reload');
like($seen->{key} // '', qr/^rk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/, 'a created key is shown');
like($seen->{key_warning} // '', qr/shown only this once/, 'with the warning');
ok($seen->{copy_button}, 'and a Copy button');
ok(defined $seen->{key_after_done} && !$seen->{key_after_done}, 'once dismissed, the key is not in the page');
ok(defined $seen->{key_after_reload} && !$seen->{key_after_reload}, 'nor after a reload');
my ($kp) = ($seen->{key} // '') =~ /^rk_([a-z0-9]{8})_/;
like($seen->{key_row} // '', qr/rk_\Q$kp\E_…/, 'the list shows its prefix only');
ok($seen->{revoked}, 'Revoke (confirmed) takes it from the list');
($st, $j) = api($gw, $seen->{key}, 'GET', '/v1/workspaces');
is($st, 401, 'and the key no longer works');
is_deeply([$seen->{env_url}, $seen->{env_url_reloaded}],
          ["$main/settings/environments/staging", "$main/settings/environments/staging"],
          'a new environment has its page, kept by a reload');
is($seen->{value_field_type}, 'password', 'the value field hides what is typed');
is($seen->{status}, 'Saved DB_PASSWORD.', 'the variable is saved');
is($seen->{value_field_after}, '', 'and its value field cleared');
ok(defined $seen->{value_after_save} && !$seen->{value_after_save}, 'the value is not in the page after saving');
ok(defined $seen->{value_after_reload} && !$seen->{value_after_reload}, 'nor after a reload');
like($seen->{env_text} // '', qr/DB_PASSWORD value hidden/, 'the variable shown by name');
is($seen->{file_size}, '10 B', 'the file with its size');
($st, $j) = api($gw, $admin->{key}, 'GET', '/v1/environments/staging');
is_deeply([$st, $j->{variables}, $j->{files}], [200, ['DB_PASSWORD'], [{ path => 'config/app.env', size => 10 }]],
          'the API has them');
like($redis->cmd('HGET', "replicas:env:$org:staging", 'var:DB_PASSWORD'), qr/^v1\./, 'the value stored sealed');
my (undef, undef, $lres) = api($gw, $admin->{key}, 'GET', '/v1/environments');
unlike($lres->{body}, qr/BROWSER-SEKRIT/, 'and in no API answer');
is($seen->{members_url}, "$main/settings/members", 'Members at /settings/members');
like($seen->{new_row} // '', qr/grace\@example\.com member · active/, 'the added member listed with role and state');
like($seen->{duplicate} // '', qr/already in your organisation/, 'the same email again: said in the page');
like($seen->{link} // '', qr{^\Q$main\E/login\?token=}, 'a login link for them, shown once');
is($seen->{member_landed}, "$main/", 'the link signs the member in, in a fresh browser');
like($seen->{member_who} // '', qr/^grace\@example\.com/, 'as the member');
ok(defined $seen->{member_env_create} && !$seen->{member_env_create}, 'a member is offered no new environment');
like($seen->{usable} // '', qr/Usable by everyone in the organisation/, 'the admin makes it usable by everyone');
is_deeply($seen->{member_envs}, ['staging'], 'the member lists the environments usable by them');
ok(defined $seen->{member_var_form} && !$seen->{member_var_form}, 'its page offers them no variable form');
is($seen->{member_remove_buttons}, 0, 'nor Remove, nor Delete');
ok(defined $seen->{member_env_value} && !$seen->{member_env_value}, 'and has no value in it');
like($seen->{member_env_refused} // '', qr/^Not allowed: environment admins-only is not usable by you/,
     'an environment not usable by them: the 403 said in the page');
ok(defined $seen->{member_user_add} && !$seen->{member_user_add}, 'no Add user');
is($seen->{member_link_buttons}, 0, 'no login links for others');
ok($seen->{member_my_link}, 'a login link for themself');
ok(defined $seen->{member_user_select} && !$seen->{member_user_select}, 'keys for themself only');
ok(!$seen->{phone_overflow_env} && !$seen->{phone_overflow_members} && !$seen->{phone_overflow_member_keys},
   'no sideways scrolling at phone width');
is_deeply($seen->{csp}, [], 'no Content-Security-Policy violation');
is_deeply($seen->{console}, [], 'no error in the console');
my $r2 = http_request(port => $gp, host => "$d:$gp", path => ($seen->{link} // '') =~ s{^\Q$main\E}{}r,
                      headers => [['Accept', 'text/html']]);
isnt($r2->{status}, 303, 'the link works once');
diag("screenshots in $shots");

sub sha256_of { return Digest::SHA::sha256_hex($_[0]) }

done_testing();
