# Environments: PUT/GET/list/DELETE through the API; values sealed at
# rest (never plaintext in Redis, never in an answer); who may manage
# them; validation; no secrets key; and control's side (environment
# check): Global merged under a named one, values opened with the same
# key, a tampered value refused by name, files written without following
# links.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use File::Temp qw(tempdir);
use Replicas::Test qw(start_redis tmpdir);
use Replicas::Gateway qw(start_gateway secrets_key_file);
use Replicas::Identity qw(control new_identity api);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis);
my $me = new_identity($redis);
my ($key, $org) = ($me->{key}, $me->{org});

sub err_code { $_[0] && $_[0]{error} ? $_[0]{error}{code} : '' }

# every secret value of this test carries this marker: none may show
my $M = 'S3CRET';

# --- PUT, GET, list -----------------------------------------------------------
my ($st, $j, $res) = api($gw, $key, 'PUT', '/v1/environments/global', {
    variables => { API_TOKEN => "$M-global-token", SHARED => "$M-global-shared",
                   EMPTY => '' },
    files => { '.npmrc' => "//registry/:_authToken=$M-npm\n",
               'config/app.env' => "A=$M-a\n" },
});
is($st, 200, 'PUT global: 200');
is($j->{name}, 'global', 'named');
is_deeply($j->{variables}, [qw(API_TOKEN EMPTY SHARED)], 'variable names, sorted');
is_deeply($j->{files}, [ { path => '.npmrc', size => length("//registry/:_authToken=$M-npm\n") },
                         { path => 'config/app.env', size => length("A=$M-a\n") } ],
          'files: paths and sizes');
ok($j->{updated} && $j->{updated} > 1e9, 'updated: a unix time');
unlike($res->{body}, qr/\Q$M\E/, 'no value in the answer');

my $big = 'x' x 65536;
($st, $j, $res) = api($gw, $key, 'PUT', '/v1/environments/staging', {
    variables => { SHARED => "$M-staging-shared", ONLY_STAGING => "$M-only" },
    files => { 'config/app.env' => "A=$M-staging\n", 'big.txt' => $big },
});
is($st, 200, 'PUT staging (with a 64 KiB file): 200');
is_deeply([ map { $_->{path} } @{ $j->{files} } ], ['big.txt', 'config/app.env'],
          'its files');
is($j->{files}[0]{size}, 65536, 'the size of a 64 KiB file');

($st, $j) = api($gw, $key, 'PUT', '/v1/environments/empty-one', {});
is($st, 200, 'an empty environment');
is_deeply([$j->{variables}, $j->{files}], [[], []], 'with empty lists');

($st, $j, $res) = api($gw, $key, 'GET', '/v1/environments/staging');
is($st, 200, 'GET one');
is_deeply($j->{variables}, [qw(ONLY_STAGING SHARED)], 'its variable names');
unlike($res->{body}, qr/\Q$M\E/, 'no value');

($st, $j, $res) = api($gw, $key, 'GET', '/v1/environments');
is($st, 200, 'list');
is_deeply([ map { $_->{name} } @{ $j->{environments} } ], [qw(empty-one global staging)],
          'every environment of the organisation');
unlike($res->{body}, qr/\Q$M\E/, 'no value in the list');

($st, $j) = api($gw, $key, 'GET', '/v1/environments/nosuch');
is($st, 404, 'unknown environment: 404');
is(err_code($j), 'environment_not_found', 'named');

# --- at rest: sealed tokens only ----------------------------------------------
my %flat = @{ $redis->cmd('HGETALL', "replicas:env:$org:global") };
is_deeply([ sort keys %flat ],
          [ 'file:.npmrc', 'file:config/app.env', 'updated',
            'var:API_TOKEN', 'var:EMPTY', 'var:SHARED' ], 'the Redis fields');
my @tokens = map { $flat{$_} } grep { /^(var|file):/ } keys %flat;
is(scalar(grep { /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/ } @tokens), scalar @tokens,
   'every value is a v1 sealed token');
is(scalar(grep { /\Q$M\E/ } @tokens), 0, 'none holds the plaintext');
my $dump = join '', map { my $k = $_; my $t = $redis->cmd('TYPE', $k);
                          $t eq 'hash' ? join('', @{ $redis->cmd('HGETALL', $k) })
                          : $t eq 'string' ? $redis->cmd('GET', $k) : '' }
                    @{ $redis->cmd('KEYS', '*') };
unlike($dump, qr/\Q$M\E/, 'no plaintext anywhere in Redis');
ok($redis->cmd('SISMEMBER', "replicas:org-envs:$org", 'staging'), 'indexed per organisation');

my $log = $gw->{nginx}->error_log . do { local $/; open my $fh, '<', $gw->{nginx}->dir . '/logs/access.log' or die; <$fh> };
unlike($log, qr/\Q$M\E/, 'nor in the gateway\'s logs');

# PUT replaces the whole environment
($st, $j) = api($gw, $key, 'PUT', '/v1/environments/empty-one',
                { variables => { A => "$M-1" } });
($st, $j) = api($gw, $key, 'PUT', '/v1/environments/empty-one',
                { files => { 'f' => "$M-2" } });
is_deeply([$j->{variables}, [ map { $_->{path} } @{ $j->{files} } ]], [[], ['f']],
          'a PUT replaces the whole environment');

# --- who may --------------------------------------------------------------------
($st, $j) = api($gw, undef, 'GET', '/v1/environments');
is($st, 401, 'no key: 401');
($st, $j) = api($gw, 'rk_nope_nope', 'PUT', '/v1/environments/x', {});
is($st, 401, 'an unknown key cannot write: 401');

my $ws = 'envws1';
$redis->cmd('HSET', "replicas:ws:$ws", 'state', 'awake', 'org', $org);
my ($rc, $scoped) = control($redis, 'key', 'create', '--user', $me->{user}, '--workspace', $ws);
chomp $scoped;
is($rc, 0, 'a workspace-scoped key');
for my $req (['GET', '/v1/environments'], ['GET', '/v1/environments/global'],
             ['PUT', '/v1/environments/global', {}], ['DELETE', '/v1/environments/staging']) {
    ($st, $j) = api($gw, $scoped, @$req);
    is($st, 403, "a workspace-scoped key: $req->[0] $req->[1] is 403");
    is(err_code($j), 'forbidden', 'forbidden');
}

my $other = new_identity($redis, email => 'eve@example.org');
($st, $j) = api($gw, $other->{key}, 'GET', '/v1/environments');
is_deeply($j, { environments => [] }, 'another organisation sees none');
($st) = api($gw, $other->{key}, 'GET', '/v1/environments/global');
is($st, 404, 'nor one by name');
($st) = api($gw, $other->{key}, 'DELETE', '/v1/environments/staging');
is($st, 404, 'nor may it delete');
($st, $j) = api($gw, $other->{key}, 'PUT', '/v1/environments/global',
                { variables => { X => 'theirs' } });
is($st, 200, 'its own global is its own');
($st, $j) = api($gw, $key, 'GET', '/v1/environments/global');
is_deeply($j->{variables}, [qw(API_TOKEN EMPTY SHARED)], 'ours untouched');

# --- validation -----------------------------------------------------------------
my %many = map { ("V$_" => 'v') } 1 .. 201;
my %files33 = map { ("f$_" => 'c') } 1 .. 33;
my @bad = (
    ['{',                                        'invalid_json',    'broken JSON'],
    ['[]',                                       'invalid_request', 'not an object'],
    ['{"colour":"red"}',                         'invalid_request', 'unknown field'],
    ['{"variables":[]}',                         'invalid_request', 'variables not an object'],
    ['{"variables":{"A":5}}',                    'invalid_request', 'a number as a value'],
    ['{"variables":{"A":null}}',                 'invalid_request', 'null as a value'],
    ['{"variables":{"A":{"b":"c"}}}',            'invalid_request', 'an object as a value'],
    ['{"variables":{"1A":"x"}}',                 'invalid_request', 'a variable name with a leading digit'],
    ['{"variables":{"A-B":"x"}}',                'invalid_request', 'a variable name with a dash'],
    ['{"variables":{"":"x"}}',                   'invalid_request', 'an empty variable name'],
    ['{"variables":{"A":"' . ('v' x 32769) . '"}}', 'invalid_request', 'a value over 32 KiB'],
    ['{"variables":{"A":"a\u0000b"}}',           'invalid_json',    'NUL in a value'],
    ['{"variables":{"A":"x","A":"y"}}',          'invalid_json',    'a variable twice'],
    [encode_json({ variables => \%many }),       'invalid_request', '201 variables'],
    ['{"files":[]}',                             'invalid_request', 'files not an object'],
    ['{"files":{"../x":"c"}}',                   'invalid_request', 'a path ../x'],
    ['{"files":{"a/../../x":"c"}}',              'invalid_request', 'a path with .. inside'],
    ['{"files":{"/abs":"c"}}',                   'invalid_request', 'an absolute path'],
    ['{"files":{"a//b":"c"}}',                   'invalid_request', 'a path a//b'],
    ['{"files":{"a/":"c"}}',                     'invalid_request', 'a path ending in /'],
    ['{"files":{"./a":"c"}}',                    'invalid_request', 'a . part'],
    ['{"files":{"a\nb":"c"}}',                   'invalid_request', 'a newline in a path'],
    ['{"files":{"a\u0001b":"c"}}',               'invalid_request', 'a control character in a path'],
    ['{"files":{"' . ('p' x 256) . '":"c"}}',    'invalid_request', 'a path over 255 bytes'],
    ['{"files":{"a":5}}',                        'invalid_request', 'a number as content'],
    ['{"files":{"a":"' . ('x' x 65537) . '"}}',  'invalid_request', 'a file of 65537 bytes'],
    [encode_json({ files => \%files33 }),        'invalid_request', '33 files'],
);
for my $b (@bad) {
    my ($s, $e, $r) = api($gw, $key, 'PUT', '/v1/environments/dev', $b->[0]);
    is($s, 400, "400 for $b->[2]");
    is(err_code($e), $b->[1], "code $b->[1] for $b->[2]");
}
($st, $j) = api($gw, $key, 'PUT', '/v1/environments/dev', undef);
is($st, 400, 'PUT without a body: 400');
for my $name ('Dev', '-dev', 'a%20b', 'a.b', 'x' x 65) {
    ($st, $j) = api($gw, $key, 'PUT', "/v1/environments/$name", {});
    is($st, 400, "a bad environment name \"$name\": 400");
    is(err_code($j), 'invalid_request', 'invalid_request');
}
($st) = api($gw, $key, 'GET', '/v1/environments/a/b');
is($st, 404, 'a deeper path: 404');
($st, $j) = api($gw, $key, 'POST', '/v1/environments/dev', {});
is($st, 405, 'POST: 405');
($st, $j) = api($gw, $key, 'GET', '/v1/environments/dev');
is($st, 404, 'nothing was stored by the refused PUTs');
($st, $j) = api($gw, $key, 'PUT', '/v1/environments/dev', 'x' x (5 * 1024 * 1024));
is($st, 413, 'over the environments body limit: 413');
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces',
                { repository => 'r', environment => '-dev' });
is($st, 400, 'a workspace with a bad environment name: 400');

# --- control: environment check ---------------------------------------------------
sub check {
    my (@args) = @_;
    return control($redis, 'environment', 'check', '--org', $org,
                   '--secrets-key', $gw->{secrets_key}, @args);
}

my $out;
($rc, $out) = check('--name', 'staging');
is($rc, 0, 'control opens and merges staging over global') or diag $out;
is($out, join('', map { "$_\n" }
                  'variable API_TOKEN', 'variable EMPTY', 'variable ONLY_STAGING',
                  'variable SHARED',
                  'file .npmrc ' . length("//registry/:_authToken=$M-npm\n"),
                  'file big.txt 65536', 'file config/app.env ' . length("A=$M-staging\n")),
   'names and paths of both, the named one winning; no values');

my $dir = tempdir(DIR => tmpdir());
($rc, $out) = check('--name', 'staging', '--write', $dir);
is($rc, 0, 'and writes the files') or diag $out;
my $slurp = sub { open my $fh, '<', $_[0] or return undef; local $/; <$fh> };
is($slurp->("$dir/config/app.env"), "A=$M-staging\n", 'the named one\'s file wins');
is($slurp->("$dir/.npmrc"), "//registry/:_authToken=$M-npm\n", 'Global\'s file too');
is(length($slurp->("$dir/big.txt") // ''), 65536, 'the 64 KiB file whole');
is((stat "$dir/.npmrc")[2] & 07777, 0600, 'files are mode 600');
is((stat "$dir/config")[2] & 07777, 0700, 'directories made 700');

($rc, $out) = check();
is($rc, 0, 'Global alone');
unlike($out, qr/ONLY_STAGING/, 'without staging\'s variables');

# links are not followed, anywhere along a path
my $victim = tempdir(DIR => tmpdir());
my $dir2 = tempdir(DIR => tmpdir());
symlink($victim, "$dir2/config") or die "symlink: $!";
($rc, $out) = check('--name', 'staging', '--write', $dir2);
is($rc, 1, 'a directory that is a symlink: refused');
like($out, qr{config/app\.env}, 'naming the path');
ok(!-e "$victim/app.env", 'nothing written through the link');
my $dir3 = tempdir(DIR => tmpdir());
open my $fh, '>', "$victim/target" or die; print $fh "keep\n"; close $fh;
symlink("$victim/target", "$dir3/.npmrc") or die "symlink: $!";
($rc, $out) = check('--write', $dir3);
is($rc, 0, 'a file that is a symlink is replaced') or diag $out;
ok(!-l "$dir3/.npmrc", 'by a plain file');
is($slurp->("$victim/target"), "keep\n", 'its target untouched');

($rc, $out) = check('--name', 'nosuch');
is($rc, 1, 'an environment that does not exist: exit 1');
like($out, qr/nosuch does not exist/, 'said');

# a tampered value: refused, named, not shown
my $t = $redis->cmd('HGET', "replicas:env:$org:staging", 'var:ONLY_STAGING');
my $bad = $t; substr($bad, -5, 1) = substr($bad, -5, 1) eq 'A' ? 'B' : 'A';
$redis->cmd('HSET', "replicas:env:$org:staging", 'var:ONLY_STAGING', $bad);
($rc, $out) = check('--name', 'staging');
is($rc, 1, 'a tampered value: exit 1');
like($out, qr/var:ONLY_STAGING/, 'the field is named');
unlike($out, qr/\Q$M\E/, 'no value shown');

# a value moved to another field does not open either
$redis->cmd('HSET', "replicas:env:$org:staging", 'var:ONLY_STAGING',
            $redis->cmd('HGET', "replicas:env:$org:staging", 'var:SHARED'));
($rc, $out) = check('--name', 'staging');
is($rc, 1, 'a value moved to another field: exit 1');
like($out, qr/var:ONLY_STAGING/, 'named');
$redis->cmd('HSET', "replicas:env:$org:staging", 'var:ONLY_STAGING', $t);
($rc) = check('--name', 'staging');
is($rc, 0, 'restored, it opens again');

# loader variables stored without the admin's allow (before the gateway
# refused them): control does not apply them
($st, $j) = api($gw, $key, 'PUT', '/v1/environments/loader',
                { variables => { LD_PRELOAD => '/tmp/evil.so', FINE => 'x' },
                  allow_loader_variables => JSON::PP::true });
is($st, 200, 'an environment with LD_PRELOAD, allowed by an admin');
($rc, $out) = check('--name', 'loader');
is($rc, 0, 'control applies it') or diag $out;
like($out, qr/^variable LD_PRELOAD$/m, 'LD_PRELOAD included');
$redis->cmd('HDEL', "replicas:env:$org:loader", 'allow_loader_variables');
($rc, $out) = check('--name', 'loader');
is($rc, 1, 'the same record without the allow flag (stored before roles): refused');
like($out, qr/variable LD_PRELOAD changes how programs load.*allow_loader_variables/,
     'with the reason and what to do');
$redis->cmd('DEL', "replicas:env:$org:loader");
$redis->cmd('SREM', "replicas:org-envs:$org", 'loader');

# another key does not open them
my $other_key = secrets_key_file();
($rc, $out) = control($redis, 'environment', 'check', '--org', $org,
                      '--secrets-key', $other_key);
is($rc, 1, 'another secrets key: exit 1');
like($out, qr/another secrets key/, 'said');
($rc, $out) = control($redis, 'environment', 'check', '--org', $org);
is($rc, 2, 'no --secrets-key: usage');

# --- delete ---------------------------------------------------------------------
($st, $j) = api($gw, $key, 'DELETE', '/v1/environments/staging');
is($st, 200, 'DELETE: 200');
is_deeply($j, { name => 'staging', deleted => JSON::PP::true }, 'deleted');
is($redis->cmd('EXISTS', "replicas:env:$org:staging"), 0, 'gone from Redis');
($st) = api($gw, $key, 'GET', '/v1/environments/staging');
is($st, 404, 'then 404');
($st) = api($gw, $key, 'DELETE', '/v1/environments/staging');
is($st, 404, 'deleting again: 404');
($st, $j) = api($gw, $key, 'GET', '/v1/environments');
is_deeply([ map { $_->{name} } @{ $j->{environments} } ], [qw(empty-one global)],
          'the list without it');

# --- a gateway without a secrets key --------------------------------------------
my $gw2 = start_gateway(redis => $redis, secrets_key => '');
($st, $j, $res) = api($gw2, $key, 'PUT', '/v1/environments/global',
                      { variables => { X => "$M-nokey" } });
is($st, 503, 'no secrets key: a write is 503');
is(err_code($j), 'secrets_unconfigured', 'secrets_unconfigured');
like($j->{error}{message}, qr/replicas_secrets_key/, 'naming the directive');
($st, $j) = api($gw2, $key, 'GET', '/v1/environments/global');
is_deeply($j->{variables}, [qw(API_TOKEN EMPTY SHARED)], 'reads still work, nothing stored');
($st) = api($gw2, undef, 'PUT', '/v1/environments/global', {});
is($st, 401, 'and without a key it is still 401 first');

done_testing();
