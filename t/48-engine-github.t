# Git beyond commit and push, with the engine on loopback: the default
# branch rebased on or merged into the workspace's branch on request
# (POST /git/update), and pull requests on GitHub (POST /git/pull-request
# and automatically after a turn's push) against a local stand-in for
# GitHub's REST API (t/lib/Replicas/GitHubServer.pm).  origin says
# https://github.com/acme/app.git, as control's clone has it; git's
# url.<dir>.insteadOf sends fetches and pushes to a bare repository on
# disk, and REPLICAS_GITHUB_API_URL the API calls to the stand-in: no
# packet leaves the machine.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir tmpdir poll_until);
use Replicas::ModelServer qw(start_model_server);
use Replicas::GitHubServer;
use Replicas::Engine;

ok(-x objs_dir() . '/agents/node_modules/.bin/claude', 'Claude Code is installed from npm')
    or BAIL_OUT("run ./auto/test (auto/lib.sh rp_install_agents)");

my $dir = tmpdir();
my $work = "$dir/work";
my $remote = "$dir/remote.git";
my $app = "$work/app";
my $seed = "$dir/seed";
mkdir $_ for $work, "$dir/home";

$ENV{HOME} = "$dir/home";
$ENV{GIT_CONFIG_NOSYSTEM} = 1;
delete @ENV{qw(GIT_DIR GIT_WORK_TREE GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL
               GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL)};
sub git {
    my $out = `git -c user.name=Seed -c user.email=seed\@example.com @_ 2>&1`;
    $? == 0 or die "git @_: $out";
    chomp $out;
    return $out;
}
sub spew { open my $f, '>', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f }
sub slurp { local (@ARGV, $/) = @_; return <> }
# a commit as Ada would make it in the workspace
sub ada_commit {
    my ($file, $text, $msg) = @_;
    spew("$app/$file", $text);
    git("-C $app add -A");
    git("-C $app -c user.name='Ada Lovelace' -c user.email=ada\@example.com commit -q -m '$msg'");
    return git("-C $app rev-parse HEAD");
}
# a commit on origin's main from someone else's clone
sub upstream_commit {
    my ($file, $text, $msg) = @_;
    git("-C $seed pull -q --rebase origin main");
    spew("$seed/$file", $text);
    git("-C $seed add -A");
    git("-C $seed commit -q -m '$msg'");
    git("-C $seed push -q origin main");
    return git("-C $seed rev-parse HEAD");
}

my $gh_url = 'https://github.com/acme/app.git';
git("init -q --bare -b main $remote");
git("clone -q $remote $seed");
spew("$seed/README.md", "# app\n\nline one\n");
git("-C $seed add -A");
git("-C $seed commit -q -m 'first commit'");
git("-C $seed push -q origin main");
git("clone -q $remote $app");
git("-C $app checkout -q -b replicas/ws1");
git("-C $app remote set-url origin $gh_url");
git("-C $app config url.$remote.insteadOf $gh_url");

my $token = 'ghp_' . join('', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 30);
my $gh = Replicas::GitHubServer->start(token => $token, repos => { 'acme/app' => $remote });

my $model = start_model_server(key => 'sk-ant-test-not-real', scripts => [
    { match => qr/write the changelog/, steps => [
        { tool => 'Write', input => { file_path => "$app/CHANGELOG.md", content => "- greeting\n" } },
        { text => 'Wrote it.' } ] },
    { match => qr/think slowly/, steps => [ { text => 'Done thinking.', delay => 4 } ] },
]);

my $e = Replicas::Engine->new(dir => $dir, work => $work);
my %env = (ANTHROPIC_BASE_URL => $model->url, ANTHROPIC_API_KEY => 'sk-ant-test-not-real',
           REPLICAS_GITHUB_API_URL => $gh->url);
my ($st, $j) = $e->api('POST', '/start', { env => \%env, startHook => undef, cwd => $app });
is($st, 202, '/start without a token');

my $a1 = ada_commit('hello.txt', "hello\n", 'Add the greeting');

# --- no token: a clear error naming the variable -----------------------------------------
($st, $j) = $e->api('POST', '/git/pull-request?repo=app', {});
is($st, 409, 'no token: 409');
is($j->{error}{code}, 'no_token', 'no_token');
like($j->{error}{message}, qr/REPLICAS_GIT_TOKEN/, 'naming the variable');
is(scalar @{ $gh->requests }, 0, 'GitHub not asked');

($st, $j) = $e->api('POST', '/start', { env => { %env, REPLICAS_GIT_TOKEN => $token },
                                        startHook => undef, cwd => $app });
is($st, 202, '/start with the token');

# --- bad input --------------------------------------------------------------------------
for my $case ([{ draft => 'yes' }, 'draft'], [{ title => "two\nlines" }, 'title'],
              [{ title => '' }, 'title'], [{ base => '../main' }, 'base'],
              [{ base => 'a..b' }, 'base'], [{ head => 'x' }, 'unknown field'],
              [{ title => ['x'] }, 'title'], [[], 'object']) {
    ($st, $j) = $e->api('POST', '/git/pull-request?repo=app', $case->[0]);
    is($st, 400, 'pull request, ' . encode_json($case->[0]) . ': 400');
    like($j->{error}{message} // '', qr/\Q$case->[1]\E/, "saying: $case->[1]");
}
my $r = Replicas::Test::http_request(port => $e->port, host => '127.0.0.1', method => 'POST',
                                  headers => [[ 'Content-Type', 'application/json' ]],
                                  path => '/git/pull-request?repo=app', body => '{"title":');
is($r->{status}, 400, 'not JSON: 400');
($st) = $e->api('GET', '/git/pull-request?repo=app');
is($st, 405, 'GET: 405');
($st) = $e->api('POST', '/git/pull-request?repo=nope', {});
is($st, 404, 'an unknown repository: 404');
($st) = $e->api('POST', '/git/pull-request', {});
is($st, 400, 'no repo: 400');
is(scalar @{ $gh->requests }, 0, 'GitHub still not asked');

# --- a pull request: pushed, made, reported -------------------------------------------------
($st, $j) = $e->api('POST', '/git/pull-request?repo=app', { title => 'Add the greeting', draft => JSON::PP::true });
is($st, 201, 'POST /git/pull-request: 201') or diag explain $j;
is($j->{url}, 'https://github.com/acme/app/pull/1', 'the html_url');
is($j->{number}, 1, 'the number');
is_deeply([ @$j{qw(branch base created)} ], ['replicas/ws1', 'main', JSON::PP::true], 'branch, base, made now');
is(git("--git-dir=$remote rev-parse refs/heads/replicas/ws1"), $a1, 'the branch was pushed first');
my $reqs = $gh->requests;
is(scalar @$reqs, 1, 'one call');
is($reqs->[0]{method}, 'POST', 'POST');
is($reqs->[0]{path}, '/repos/acme/app/pulls', 'to the repository of origin');
is_deeply($reqs->[0]{body}, { title => 'Add the greeting', head => 'replicas/ws1', base => 'main',
                              draft => JSON::PP::true, body => $reqs->[0]{body}{body} },
          'head, base, title, draft');
like($reqs->[0]{body}{body}, qr/^- Add the greeting$/m, 'the body lists the commits');
is($reqs->[0]{headers}{authorization}, "Bearer $token", 'Authorization: Bearer');
is($reqs->[0]{headers}{accept}, 'application/vnd.github+json', "GitHub's media type");
like($reqs->[0]{headers}{'user-agent'} // '', qr/replicas/, 'a User-Agent');
is($reqs->[0]{headers}{'x-github-api-version'}, '2022-11-28', 'the API version it speaks, pinned');
my $ev = $e->wait_event('git.pull_request', number => 1);
ok($ev, 'git.pull_request');
is($ev->{payload}{url}, 'https://github.com/acme/app/pull/1', 'with the URL');
($st, $j) = $e->api('GET', '/git');
is_deeply($j->{repositories}[0]{pullRequest}, { url => 'https://github.com/acme/app/pull/1', number => 1 },
          'GET /git reports it');
# /healthz's summary (control's watch keeps it as the workspace's "git"):
# the pull request at once, with branch and ahead as GET /git says them
my $full = $j->{repositories}[0];
($st, $j) = $e->api('GET', '/healthz');
my ($sum) = grep { $_->{name} eq 'app' } @{ $j->{repositories} };
is_deeply($sum->{pullRequest}, { url => 'https://github.com/acme/app/pull/1', number => 1 },
          '/healthz has it right after it was made (no rescan waited for)') or diag explain $j;
is_deeply($sum, { map { $_ => $full->{$_} } qw(name branch head ahead pullRequest) },
          'its summary: name, branch, head, ahead, pullRequest, as GET /git (without base and dirty)');
ok($sum->{ahead} >= 1, "ahead of main ($sum->{ahead})");

# --- again: the open one is found ---------------------------------------------------------
($st, $j) = $e->api('POST', '/git/pull-request?repo=app', {});
is($st, 200, 'again: 200') or diag explain $j;
is_deeply([ @$j{qw(url number created)} ], ['https://github.com/acme/app/pull/1', 1, JSON::PP::false],
          'the same pull request');
$reqs = $gh->requests;
is($reqs->[1]{body}{title}, 'Add the greeting', "the default title: the first commit's subject");
is($reqs->[2]{method}, 'GET', 'after the 422, a look-up');
is_deeply([ map { $_->{headers}{'x-github-api-version'} // 'none' } @$reqs ], [('2022-11-28') x @$reqs],
          'every call pins X-GitHub-Api-Version');
is($reqs->[2]{path}, '/repos/acme/app/pulls?head=acme%3Areplicas%2Fws1&state=open', 'by head, open ones');
is(scalar @{ $gh->pulls }, 1, 'still one pull request');

# --- GitHub's errors: 502 with its message, never the token ----------------------------------
$gh->fail_next(503, 'Service Unavailable');
($st, $j) = $e->api('POST', '/git/pull-request?repo=app', {});
is($st, 502, "GitHub's 503: 502");
is($j->{error}{code}, 'github_failed', 'github_failed');
like($j->{error}{message}, qr/503.*Service Unavailable/, "with GitHub's message");
$e->api('POST', '/start', { env => { %env, REPLICAS_GIT_TOKEN => 'ghp_wrong' }, startHook => undef, cwd => $app });
($st, $j) = $e->api('POST', '/git/pull-request?repo=app', {});
is($st, 502, 'a wrong token: 502');
like($j->{error}{message}, qr/Bad credentials/, 'Bad credentials');
unlike(encode_json($j), qr/ghp_/, 'no token in the answer');
$e->api('POST', '/start', { env => { %env, REPLICAS_GIT_TOKEN => $token }, startHook => undef, cwd => $app });

# --- automatic after a turn's push, on a new branch -------------------------------------------
git("-C $app checkout -q -b replicas/ws2");
my ($stm) = $e->api('POST', '/messages', { seq => 1, text => "Please write the changelog\nthanks",
                                           user => 'u1', at => time,
                                           author => { name => 'Ada Lovelace', email => 'ada@example.com' } });
is($stm, 202, 'a message');
my $p2 = $e->wait_event('git.pull_request', branch => 'replicas/ws2');
ok($p2, 'git.pull_request after the turn') or diag $e->log_text;
is($p2->{payload}{number}, 2, 'a new pull request');
ok($e->wait_idle, 'idle');
my ($auto) = grep { $_->{method} eq 'POST' && $_->{body}{head} eq 'replicas/ws2' } @{ $gh->requests };
is($auto->{body}{title}, 'Add the greeting', "titled by the branch's first commit");
is($auto->{body}{draft}, JSON::PP::false, 'not a draft by default');

# --- the workspace's command line: replicas pr create ----------------------------------------
mkdir "$dir/bin";
symlink(objs_dir() . '/replicas-engine', "$dir/bin/replicas") or die "symlink: $!";
{
    local $ENV{REPLICAS_ENGINE_URL} = 'http://127.0.0.1:' . $e->port;
    my $out = `$dir/bin/replicas pr create --title 'From the CLI' 2>&1`;
    is($?, 0, '`replicas pr create` exits 0') or diag $out;
    is($out, "https://github.com/acme/app/pull/2\n", "it prints the branch's pull request");
    $out = `$dir/bin/replicas pr create --repo nope 2>&1`;
    isnt($?, 0, 'an unknown repository: fails');
    like($out, qr/no such repository/, 'saying so');
    `$dir/bin/replicas pr create --bogus 2>&1`;
    is($? >> 8, 2, 'a bad flag: exit 2');
}

# --- update: rebase --------------------------------------------------------------------------
my $head_before = git("-C $app rev-parse HEAD");
my $u1 = upstream_commit('upstream.txt', "from main\n", 'Upstream work');
($st, $j) = $e->api('POST', '/git/update?repo=app', { strategy => 'rebase' });
is($st, 200, 'POST /git/update rebase') or diag explain $j;
ok($j->{updated}, 'updated');
ok($j->{pushed}, 'and pushed');
is($j->{previous}, $head_before, 'from the old head');
my $h = git("-C $app rev-parse HEAD");
is($j->{sha}, $h, 'to the new one');
is(git("-C $app rev-parse HEAD~2"), $u1, "onto origin's main");
is(git("-C $app log -2 --format='%an|%ae|%cn' HEAD"),
   "Ada Lovelace|ada\@example.com|Replicas\nAda Lovelace|ada\@example.com|Replicas",
   'the authors kept, the bot commits');
is(git("-C $app log -1 --format=%s HEAD~1"), 'Add the greeting', 'the messages kept');
is(git("--git-dir=$remote rev-parse refs/heads/replicas/ws2"), $h, 'force-pushed');
is(git("-C $app status --porcelain"), '', 'the tree clean');
ok(-f "$app/upstream.txt", "main's file is there");
ok($e->wait_event('git.updated', strategy => 'rebase'), 'git.updated');
($st, $j) = $e->api('POST', '/git/update?repo=app', {});
is($st, 200, 'again');
ok(!$j->{updated}, 'up to date');

# --- update: merge ---------------------------------------------------------------------------
my $u2 = upstream_commit('upstream2.txt', "more\n", 'More upstream work');
($st, $j) = $e->api('POST', '/git/update?repo=app', { strategy => 'merge' });
is($st, 200, 'POST /git/update merge') or diag explain $j;
$h = git("-C $app rev-parse HEAD");
is(git("-C $app log -1 --format=%P"), "$j->{previous} $u2", 'a merge commit of both');
is(git("-C $app log -1 --format='%an|%cn|%s'"),
   "Replicas|Replicas|Merge remote-tracking branch 'origin/main' into replicas/ws2", 'by the bot');
is(git("--git-dir=$remote rev-parse refs/heads/replicas/ws2"), $h, 'pushed');

# --- conflicts: 409 with the files, nothing changed -------------------------------------------
upstream_commit('README.md', "# app\n\nline one, as main has it\n", 'Main edits the README');
my $mine = ada_commit('README.md', "# app\n\nline one, as the workspace has it\n", 'Edit the README');
my $readme = slurp("$app/README.md");
for my $strategy (qw(rebase merge)) {
    ($st, $j) = $e->api('POST', '/git/update?repo=app', { strategy => $strategy });
    is($st, 409, "$strategy with a conflict: 409") or diag explain $j;
    is($j->{error}{code}, 'conflict', 'conflict');
    is_deeply($j->{error}{files}, ['README.md'], 'the file');
    is(git("-C $app rev-parse HEAD"), $mine, 'HEAD as it was');
    is(git("-C $app status --porcelain"), '', 'the tree clean');
    is(slurp("$app/README.md"), $readme, 'no conflict markers');
    ok(!-e "$app/.git/rebase-merge" && !-e "$app/.git/MERGE_HEAD", 'no rebase or merge under way');
}
ok($e->wait_event('git.update_failed', reason => 'conflict'), 'git.update_failed');
($st) = $e->api('GET', '/healthz');
is($st, 200, 'the engine is fine');

# --- refused ---------------------------------------------------------------------------------
spew("$app/wip.txt", "not committed\n");
($st, $j) = $e->api('POST', '/git/update?repo=app', {});
is($st, 409, 'a dirty tree: 409');
like($j->{error}{message}, qr/not committed/, 'saying why');
unlink "$app/wip.txt";
for my $b ({ strategy => 'squash' }, { strategy => 1 }, { base => '-x' }, { title => 'x' }) {
    ($st) = $e->api('POST', '/git/update?repo=app', $b);
    is($st, 400, 'update, ' . encode_json($b) . ': 400');
}
($st) = $e->api('GET', '/git/update?repo=app');
is($st, 405, 'GET: 405');
($st, $j) = $e->api('POST', '/git/update?repo=app', { base => 'nope' });
is($st, 409, 'a base origin does not have: 409');

# --- not while an agent works -----------------------------------------------------------------
($stm) = $e->api('POST', '/messages', { seq => 2, text => 'Please think slowly', user => 'u1', at => time });
is($stm, 202, 'a slow turn');
ok($e->wait_event('chat.turn.started', seq => 2), 'it runs');
($st, $j) = $e->api('POST', '/git/update?repo=app', {});
is($st, 409, 'update while it runs: 409');
is($j->{error}{code}, 'busy', 'busy');
ok($e->wait_idle, 'idle again');

# --- an origin that is not on GitHub ---------------------------------------------------------
git("clone -q $remote $work/lib");
git("-C $work/lib checkout -q -b replicas/ws1");
($st, $j) = $e->api('POST', '/git/pull-request?repo=lib', {});
is($st, 409, 'origin a path: 409');
is($j->{error}{code}, 'not_github', 'not_github');
($st, $j) = $e->api('GET', '/git');
is_deeply([ map { $_->{name} } @{ $j->{repositories} } ], ['app', 'lib'], 'both repositories');
ok(!exists $j->{repositories}[1]{pullRequest}, 'no pull request for lib');

unlike($e->log_text, qr/\Q$token\E|ghp_wrong|sk-ant-test/, 'no token in the log');

done_testing();
