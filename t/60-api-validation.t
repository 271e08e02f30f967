# The HTTP API v1's validation (ngx_http_replicas_api_validate.c): for
# every rule of every operation's table, the status, the error code and
# the message, word for word, answered before the script runs; and which
# error comes first when a request breaks two rules.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis);
use Replicas::Gateway qw(start_gateway);
use Replicas::Identity qw(new_identity api);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $key = new_identity($redis)->{key};

my $ws = '/v1/workspaces/abc123def456';
my $repo = 'file:///srv/repos/demo';
my @ids33 = map { "user$_" } 1 .. 33;
my @repos8 = map { "file:///srv/repos/r$_" } 1 .. 8;

my $json = 'invalid_json';
my $bad = 'invalid_request';
my $env_msg = 'must be 1 to 64 lowercase letters, digits, dashes or '
            . 'underscores, starting with a letter or digit';

# [method, path, body (undef: none; a string: sent as is), code, message]
my @cases = (
    # create
    ['POST', '/v1/workspaces', undef, $json, 'this request needs a JSON body'],
    ['POST', '/v1/workspaces', '[]', $bad, 'the body must be a JSON object'],
    ['POST', '/v1/workspaces', {}, $bad, '"repository" is required'],
    ['POST', '/v1/workspaces', { repository => undef }, $bad,
     '"repository" is required'],
    ['POST', '/v1/workspaces', { repository => 1 }, $bad,
     '"repository" must be a string'],
    ['POST', '/v1/workspaces', { repository => $repo, ('x' x 80) => 1 }, $bad,
     'unknown field "' . ('x' x 64) . '"'],
    ['POST', '/v1/workspaces', { repository => 'a b' }, $bad,
     '"repository" must be a URL or path of 1 to 512 characters without spaces'],
    ['POST', '/v1/workspaces', { repository => '' }, $bad,
     '"repository" must be a URL or path of 1 to 512 characters without spaces'],
    ['POST', '/v1/workspaces', { repository => 'https://u:p@example.com/a/b' },
     $bad, 'no credentials in a repository URL: put the token in an '
           . 'environment as REPLICAS_GIT_TOKEN'],
    ['POST', '/v1/workspaces', { repository => 'http://127.0.0.1/a/b' }, $bad,
     qr/^the repository's host 127\.0\.0\.1 is in the loopback range: /],
    ['POST', '/v1/workspaces', { repository => $repo, name => 'a/b' }, $bad,
     '"name" must be 1 to 100 letters, digits, spaces, dots, dashes or '
     . 'underscores'],
    ['POST', '/v1/workspaces', { repository => $repo, name => 'n' x 101 }, $bad,
     '"name" must be 1 to 100 letters, digits, spaces, dots, dashes or '
     . 'underscores'],
    ['POST', '/v1/workspaces', { repository => $repo, environment => 'Prod' },
     $bad, "\"environment\" $env_msg"],
    ['POST', '/v1/workspaces', { repository => $repo, agent => 'nope' }, $bad,
     qr/^"agent" must be one of claude/],
    ['POST', '/v1/workspaces', { repository => $repo, agent => 7 }, $bad,
     '"agent" must be a string'],
    ['POST', '/v1/workspaces', { repository => $repo, message => '' }, $bad,
     '"message" must be 1 to 32768 characters'],
    ['POST', '/v1/workspaces', { repository => $repo, message => "a\x01" }, $bad,
     '"message" must be 1 to 32768 characters'],
    ['POST', '/v1/workspaces', { repository => $repo, repositories => 'x' },
     $bad, '"repositories" must be an array'],
    ['POST', '/v1/workspaces', { repository => $repo, repositories => \@repos8 },
     $bad, '"repositories" holds at most 7 more repositories'],
    ['POST', '/v1/workspaces', { repository => $repo, repositories => [1] },
     $bad, '"repositories" must be URLs or paths of 1 to 512 characters '
           . 'without spaces or credentials'],
    ['POST', '/v1/workspaces',
     { repository => $repo, repositories => ['https://u:p@example.com/a'] },
     $bad, '"repositories" must be URLs or paths of 1 to 512 characters '
           . 'without spaces or credentials'],
    ['POST', '/v1/workspaces',
     { repository => $repo, repositories => ['http://127.0.0.1/a'] },
     $bad, qr/^the repository's host 127\.0\.0\.1 is in the loopback range: /],
    # the first rule broken, in the table's order
    ['POST', '/v1/workspaces', { repository => 'a b', name => 'a/b' }, $bad,
     '"repository" must be a URL or path of 1 to 512 characters without spaces'],
    ['POST', '/v1/workspaces', { repository => 'a b', agent => 7 }, $bad,
     '"agent" must be a string'],

    # message
    ['POST', "$ws/messages", undef, $json, 'this request needs a JSON body'],
    ['POST', "$ws/messages", {}, $bad, '"text" is required'],
    ['POST', "$ws/messages", { text => '' }, $bad,
     '"text" must be 1 to 32768 characters'],
    ['POST', "$ws/messages", { text => 'x' x 32769 }, $bad,
     '"text" must be 1 to 32768 characters'],
    ['POST', "$ws/messages", { text => 'hi', chat => 'Main' }, $bad,
     '"chat" must be 1 to 64 lowercase letters, digits, dashes or underscores'],
    ['POST', "$ws/messages", { text => 'hi', kind => 'a b' }, $bad,
     '"kind" must be 1 to 64 lowercase letters, digits, dots, dashes or '
     . 'underscores'],
    ['POST', "$ws/messages", { text => 'hi', to => 'x' }, $bad,
     'unknown field "to"'],

    # previews
    ['POST', "$ws/previews", undef, $json, 'this request needs a JSON body'],
    ['POST', "$ws/previews", {}, $bad, '"port" is required'],
    ['POST', "$ws/previews", { port => '3000' }, $bad,
     '"port" must be an integer'],
    ['POST', "$ws/previews", { port => 0 }, $bad,
     '"port" must be an integer from 1 to 65535'],
    ['POST', "$ws/previews", { port => 65536 }, $bad,
     '"port" must be an integer from 1 to 65535'],
    ['POST', "$ws/previews", { port => 3000, visibility => 'everyone' }, $bad,
     '"visibility" must be public or authenticated'],
    ['POST', "$ws/previews", { port => 3737, visibility => 'public' }, $bad,
     'ports 3737 (engine) and 6080 (desktop) are always authenticated'],
    ['POST', "$ws/previews", { port => 6080, visibility => 'public' }, $bad,
     'ports 3737 (engine) and 6080 (desktop) are always authenticated'],
    ['DELETE', "$ws/previews", undef, $json, 'this request needs a JSON body'],
    ['DELETE', "$ws/previews", { port => 0 }, $bad,
     '"port" must be an integer from 1 to 65535'],
    ['DELETE', "$ws/previews", { port => 3000, visibility => 'public' }, $bad,
     'unknown field "visibility"'],
    ['DELETE', "$ws/previews/0", undef, $bad,
     '"port" must be an integer from 1 to 65535'],
    ['DELETE', "$ws/previews/0300", undef, $bad,
     '"port" must be an integer from 1 to 65535'],
    ['DELETE', "$ws/previews/70000", { port => 3000 }, $bad,
     '"port" must be an integer from 1 to 65535'],

    # shares
    ['POST', "$ws/previews/0/shares", undef, $bad,
     'the port must be an integer from 1 to 65535'],
    ['POST', "$ws/previews/3737/shares", undef, $bad,
     'ports 3737 (engine) and 6080 (desktop) cannot be shared'],
    ['GET', "$ws/previews/6080/shares", undef, $bad,
     'ports 3737 (engine) and 6080 (desktop) cannot be shared'],
    ['DELETE', "$ws/previews/x/shares/abc", undef, $bad,
     'the port must be an integer from 1 to 65535'],
    ['POST', "$ws/previews/3000/shares", { expires_in => 59 }, $bad,
     '"expires_in" must be from 60 seconds to 7 days (604800)'],
    ['POST', "$ws/previews/3000/shares", { expires_in => 604801 }, $bad,
     '"expires_in" must be from 60 seconds to 7 days (604800)'],
    ['POST', "$ws/previews/3000/shares", { expires_in => 'soon' }, $bad,
     '"expires_in" must be an integer'],
    ['POST', "$ws/previews/3000/shares", { ttl => 60 }, $bad,
     'unknown field "ttl"'],

    # collaborators
    ['PUT', "$ws/collaborators", undef, $json, 'this request needs a JSON body'],
    ['PUT', "$ws/collaborators", {}, $bad, '"collaborators" is required'],
    ['PUT', "$ws/collaborators", { collaborators => 'u1' }, $bad,
     '"collaborators" must be an array'],
    ['PUT', "$ws/collaborators", { collaborators => \@ids33 }, $bad,
     '"collaborators" holds at most 32 user ids'],
    ['PUT', "$ws/collaborators", { collaborators => ['User1'] }, $bad,
     '"collaborators" must be a list of user ids'],
    ['PUT', "$ws/collaborators", { collaborators => [1] }, $bad,
     '"collaborators" must be a list of user ids'],

    # environments: the body is needed before the name is looked at
    ['PUT', '/v1/environments/Prod', undef, $json,
     'this request needs a JSON body'],
    ['PUT', '/v1/environments/Prod', {}, $bad, "an environment name is 1 to 64 "
     . "lowercase letters, digits, dashes or underscores, starting with a "
     . "letter or digit"],
    ['GET', '/v1/environments/-x', undef, $bad, "an environment name $env_msg"
     =~ s/must be/is/r],
    ['DELETE', '/v1/environments/Prod', undef, $bad, "an environment name "
     . "$env_msg" =~ s/must be/is/r],
    ['PATCH', '/v1/environments/Prod', undef, $json,
     'this request needs a JSON body'],
    ['PATCH', '/v1/environments/dev', { variables => { X => 1 } }, $bad,
     'variable X: the value must be a string (or null to remove it)'],
    ['PATCH', '/v1/environments/dev', { files => { 'a.txt' => [] } }, $bad,
     'file "a.txt": the content must be a string (or null to remove it)'],

    # keys: a body is optional
    ['POST', '/v1/keys', '[]', $bad, 'the body must be a JSON object'],
    ['POST', '/v1/keys', { user => 'Bad!' }, $bad,
     '"user" must be a user id (lowercase letters and digits)'],
    ['POST', '/v1/keys', { user => 'u' x 33 }, $bad,
     '"user" must be a user id (lowercase letters and digits)'],
    ['POST', '/v1/keys', { workspace => 'a-b' }, $bad,
     '"workspace" must be a workspace id (lowercase letters and digits)'],
    ['POST', '/v1/keys', { workspace => 7 }, $bad, '"workspace" must be a string'],
    ['POST', '/v1/keys', { scope => 'user' }, $bad, 'unknown field "scope"'],

    # users
    ['POST', '/v1/users', undef, $json, 'this request needs a JSON body'],
    ['POST', '/v1/users', {}, $bad, '"email" is required'],
    (map { ['POST', '/v1/users', { email => $_ }, $bad,
            '"email" must be an email address (name@domain, at most 254 '
            . 'characters, no spaces)'] }
         'ada', '@example.com', 'ada@', 'ada@example', 'ada@example.', 'a@b@c.d',
         'a b@example.com', '"a"@example.com', '<a@example.com>', "a\x01\@example.com",
         ('a' x 250) . '@x.io'),
    ['POST', '/v1/users', { email => 'ada@example.com', role => 'owner' }, $bad,
     '"role" must be member or admin'],
    ['POST', '/v1/users', { email => 'ada@example.com', name => 'Ada' }, $bad,
     'unknown field "name"'],

    # stats: the range in the query, 1 to 90 days in decimal
    (map { ['GET', "/v1/stats?days=$_", undef, $bad,
            '"days" must be an integer from 1 to 90'] } '0', '91', '-1', '1e1', '08', '', 'x'),
    ['GET', '/v1/stats?days=100&x=1', '{"ignored": true}', $bad,
     '"days" must be an integer from 1 to 90'],
);

for my $c (@cases) {
    my ($method, $path, $body, $code, $msg) = @$c;
    my $what = "$method $path " . (defined $body
        ? (ref $body ? JSON::PP->new->canonical->encode($body) : $body) : '-');
    $what = substr($what, 0, 90) . '...' if length $what > 93;
    my ($st, $j) = api($gw, $key, $method, $path, $body);
    is($st, 400, "$what: 400");
    is($j && $j->{error} && $j->{error}{code}, $code, "$what: $code");
    if (ref $msg) {
        like($j && $j->{error}{message}, $msg, "$what: the message");
    } else {
        is($j && $j->{error}{message}, $msg, "$what: the message");
    }
}

# a body that is not JSON, whatever the operation
my ($st, $j) = api($gw, $key, 'GET', '/v1/workspaces', '{');
is($st, 400, 'a body that is not JSON: 400');
is($j->{error}{code}, 'invalid_json', 'invalid_json');
like($j->{error}{message}, qr/^the body is not valid JSON: /, 'with the parser\'s reason');

# valid: the script answers (the workspace does not exist)
($st, $j) = api($gw, $key, 'POST', "$ws/previews", { port => 3000, visibility => 'public' });
is($st, 404, 'a valid preview for an unknown workspace reaches the script: 404');
($st) = api($gw, $key, 'DELETE', "$ws/previews/3000", '{"ignored":1}');
is($st, 404, 'a port in the path: the body is not read');

done_testing();
