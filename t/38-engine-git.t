# Git in the engine: after a turn of the real Claude Code (pointed at the
# scripted Messages API of t/lib/Replicas/ModelServer.pm) the work is
# committed on the workspace's branch, authored by the message's author
# and committed by the Replicas bot, then pushed to origin (a bare repo
# on disk, as control's clone would have it).  A turn that changes
# nothing commits nothing.  GET /git, /diff, /files and /files/content
# show the work; paths never leave the repository; a push that fails is
# an event and nothing worse.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir tmpdir poll_until);
use Replicas::ModelServer qw(start_model_server);
use Replicas::Engine;

ok(-x objs_dir() . '/agents/node_modules/.bin/claude', 'Claude Code is installed from npm')
    or BAIL_OUT("run ./auto/test (auto/lib.sh rp_install_agents)");

my $dir = tmpdir();
my $work = "$dir/work";
my $remote = "$dir/remote.git";
my $app = "$work/app";
mkdir $_ for $work, "$dir/home", "$work/notes";

# the git CLI as a user has it, without anyone's config
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
sub slurp { local (@ARGV, $/) = @_; return <> }
sub spew { open my $f, '>', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f }

# the remote with main, a clone on the workspace's branch (as control makes it)
git("init -q --bare -b main $remote");
git("clone -q $remote $dir/seed");
spew("$dir/seed/README.md", "# app\n");
spew("$dir/seed/.gitignore", "*.log\n");
git("-C $dir/seed add -A");
git("-C $dir/seed commit -q -m 'first commit'");
git("-C $dir/seed push -q origin main");
my $seed_sha = git("-C $dir/seed rev-parse HEAD");
git("clone -q $remote $app");
git("-C $app checkout -q -b replicas/ws1");

my $model = start_model_server(key => 'sk-ant-test-not-real', scripts => [
    { match => qr/write the greeting/, steps => [
        { tool => 'Write', input => { file_path => "$app/hello.txt",
                                      content => "hello from the agent\nsecond line\n" } },
        { tool => 'Write', input => { file_path => "$app/debug.log", content => "noise\n" } },
        { text => 'Wrote the greeting.' } ] },
    { match => qr/just answer/, steps => [ { text => 'Nothing to change.' } ] },
    { match => qr/another file/, steps => [
        { tool => 'Write', input => { file_path => "$app/more.txt", content => "more\n" } },
        { text => 'Added it.' } ] },
]);

my $e = Replicas::Engine->new(dir => $dir, work => $work);
my %env = (ANTHROPIC_BASE_URL => $model->url, ANTHROPIC_API_KEY => 'sk-ant-test-not-real');
my ($st, $j) = $e->api('POST', '/start', { env => \%env, startHook => undef, cwd => $app });
is($st, 202, '/start');

my $seq = 0;
sub send_msg {
    my ($text, %o) = @_;
    my ($st, $j) = $e->api('POST', '/messages', { seq => ++$seq, text => $text,
                                                  user => 'u1', at => time, %o });
    is($st, 202, 'message accepted') or diag explain $j;
    return $seq;
}
my $ada = { name => 'Ada Lovelace', email => 'ada@example.com' };

# --- the author is checked ---------------------------------------------------------------
for my $bad ({ name => 'Ada <x>', email => 'a@b' }, { name => 'Ada', email => "a\n\@b" },
             { name => 'Ada' }, { name => 'Ada', email => 'a@b', role => 'x' },
             { name => '', email => 'a@b' }, 'Ada', { name => 'x' x 129, email => 'a@b' }) {
    ($st, $j) = $e->api('POST', '/messages', { seq => 1000, text => 'x', author => $bad });
    is($st, 400, 'a bad author is refused: ' . encode_json($bad));
}

# --- a turn that writes: committed as the author, by the bot, and pushed ----------------
my $s1 = send_msg("Please write the greeting\nand nothing else", author => $ada);
my $c1 = $e->wait_event('git.committed', seq => $s1);
ok($c1, 'git.committed') or diag $e->log_text;
is($c1->{payload}{repository}, 'app', 'in the repository');
is($c1->{payload}{branch}, 'replicas/ws1', "on the workspace's branch");
is_deeply($c1->{payload}{files}, ['hello.txt'], 'the changed files (ignored ones not)');
is_deeply($c1->{payload}{author}, $ada, "the message's author");
my $sha1 = $c1->{payload}{sha};
is(git("-C $app rev-parse HEAD"), $sha1, 'HEAD is the commit');
is(git("-C $app log -1 --format='%an|%ae|%cn|%ce'"),
   'Ada Lovelace|ada@example.com|Replicas|replicas@users.noreply.local',
   'authored by the author, committed by the bot');
is(git("-C $app log -1 --format=%B"),
   "Please write the greeting\n\nReplicas-Chat: default\nReplicas-Seq: $s1\n",
   "the prompt's first line and the chat's trailers");
is(git("-C $app rev-parse HEAD~1"), $seed_sha, 'on top of the branch point');
is(git("-C $app status --porcelain"), '', 'nothing left over (debug.log is ignored)');

my $p1 = $e->wait_event('git.pushed', sha => $sha1);
ok($p1, 'git.pushed');
is_deeply([ @{ $p1->{payload} }{qw(repository branch remote)} ], ['app', 'replicas/ws1', 'origin'],
          'the branch to origin');
is(git("--git-dir=$remote rev-parse refs/heads/replicas/ws1"), $sha1, 'the remote has it');
is(git("--git-dir=$remote rev-parse refs/heads/main"), $seed_sha, 'main is untouched');

# --- a turn that changes nothing commits nothing -------------------------------------------
my $s2 = send_msg('Can you just answer?', author => $ada);
ok($e->wait_event('chat.turn.completed', seq => $s2), 'a turn without changes');
ok($e->wait_idle, 'the engine is idle');
is(scalar @{ $e->of_type('git.committed', seq => $s2) }, 0, 'no commit');
is(scalar @{ $e->of_type('git.pushed') }, 1, 'no second push');
is(git("-C $app rev-parse HEAD"), $sha1, 'HEAD did not move');

# --- GET /git ------------------------------------------------------------------------------
($st, $j) = $e->api('GET', '/git');
is($st, 200, 'GET /git');
is_deeply($j, { repositories => [ { name => 'app', branch => 'replicas/ws1', head => $sha1,
                                    base => $seed_sha, dirty => JSON::PP::false, ahead => 1 } ] },
          'the repositories (notes/ is not one)') or diag explain $j;

# --- GET /diff: the work against the branch point, uncommitted work included -----------------
spew("$app/wip.txt", "work in progress\n");
my $r = $e->request('GET', '/diff?repo=app');
is($r->{status}, 200, 'GET /diff');
like($r->{headers}{'content-type'}, qr{^text/plain}, 'text');
like($r->{body}, qr{^diff --git a/hello\.txt b/hello\.txt$}m, 'the committed file');
like($r->{body}, qr{^\+hello from the agent$}m, 'with its lines');
like($r->{body}, qr{^\+second line$}m, 'all of them');
like($r->{body}, qr{^\+work in progress$}m, 'and the uncommitted one');
unlike($r->{body}, qr{README|noise}, 'nothing of the base or ignored');
($st, $j) = $e->api('GET', '/git');
ok($j->{repositories}[0]{dirty}, 'dirty now');

# --- GET /files, /files/content -----------------------------------------------------------
mkdir "$app/src";
spew("$app/src/main.c", "int main(void) { return 0; }\n");
symlink('/etc', "$app/etclink") or die "symlink: $!";
($st, $j) = $e->api('GET', '/files?repo=app');
is($st, 200, 'GET /files');
my %by = map { $_->{name} => $_ } @{ $j->{entries} };
is_deeply([ map { $_->{name} } @{ $j->{entries} } ],
          [ sort qw(.gitignore README.md debug.log etclink hello.txt src wip.txt) ],
          'the top of the tree, by name, .git not shown');
is_deeply($by{'hello.txt'}, { name => 'hello.txt', type => 'file', size => 33 }, 'a file');
is($by{src}{type}, 'dir', 'a directory');
is($by{etclink}{type}, 'link', 'a link');
($st, $j) = $e->api('GET', '/files?repo=app&path=src');
is_deeply($j->{entries}, [ { name => 'main.c', type => 'file', size => 29 } ], 'a subdirectory');
$r = $e->request('GET', '/files/content?repo=app&path=src/main.c');
is($r->{status}, 200, 'GET /files/content');
is($r->{body}, "int main(void) { return 0; }\n", "the file's bytes");
is($r->{headers}{'content-type'}, 'application/octet-stream', 'as bytes');

for my $case (['/files/content?repo=app&path=../x', 400], ['/files/content?repo=app&path=/etc/passwd', 400],
              ['/files/content?repo=app&path=src/../../x', 400], ['/files?repo=app&path=..', 400],
              ['/files/content?repo=app&path=etclink/passwd', 400], ['/files?repo=app&path=etclink', 400],
              ['/files/content?repo=app&path=etclink', 400], ['/files/content?repo=app&path=src', 400],
              ['/files/content?repo=app&path=nope.txt', 404], ['/files?repo=app&path=nope', 404],
              ['/files/content?repo=app', 400], ['/files?repo=nope', 404], ['/files?repo=..', 404],
              ['/diff?repo=notes', 404], ['/diff?repo=.', 404], ['/diff', 400],
              ['/files?repo=app%2F..&path=x', 404]) {
    my ($path, $want) = @$case;
    $r = $e->request('GET', $path);
    is($r->{status}, $want, "$path: $want");
    unlike($r->{body}, qr/root:/, 'nothing of /etc');
    like($r->{body}, qr/"error"/, 'a JSON error');
}
($st) = $e->api('POST', '/files?repo=app');
is($st, 405, 'POST /files: 405');
($st) = $e->api('GET', '/git/push?repo=app');
is($st, 405, 'GET /git/push: 405');

open my $big, '>', "$app/big.bin" or die; truncate $big, 10 * 1024 * 1024 + 1; close $big;
($st, $j) = $e->api('GET', '/files/content?repo=app&path=big.bin');
is($st, 413, 'a file over 10 MiB: 413');
unlink "$app/big.bin", "$app/etclink", "$app/wip.txt";
system('rm', '-rf', "$app/src");

# --- a push that fails: an event, the engine goes on -----------------------------------------
rename $remote, "$remote.gone" or die;
# the committer from the workspace's environment
$e->api('POST', '/start', { env => { %env, REPLICAS_GIT_COMMITTER_NAME => 'Acme Bot',
                                     REPLICAS_GIT_COMMITTER_EMAIL => 'bot@acme.test' },
                            startHook => undef, cwd => $app });
# a repository inside the work tree (a scaffolder's, a clone) stays out of the commit
git("init -q $app/nested");
spew("$app/nested/x.txt", "x\n");
my $s3 = send_msg('Write another file');          # no author: the default one
my $c3 = $e->wait_event('git.committed', seq => $s3);
ok($c3, 'the next turn commits');
is_deeply($c3->{payload}{files}, ['more.txt'], 'its file');
is(git("-C $app log -1 --format='%an|%ae|%cn|%ce'"),
   'Replicas user|u1@users.noreply.local|Acme Bot|bot@acme.test',
   "without an author: the default one, from the user id; the environment's committer");
my $f3 = $e->wait_event('git.push_failed');
ok($f3, 'git.push_failed');
is($f3->{payload}{branch}, 'replicas/ws1', 'for the branch');
ok(length $f3->{payload}{error}, 'with the error: ' . ($f3->{payload}{error} // ''));
ok($e->wait_idle, 'the engine is idle again');
($st, $j) = $e->api('GET', '/healthz');
is($st, 200, 'and fine');
my ($app_health) = grep { $_->{name} eq 'app' } @{ $j->{repositories} };
is($app_health->{branch}, 'replicas/ws1', "healthz names the repositories and their branch");
is($app_health->{head}, git("-C $app rev-parse HEAD"), 'and head');
is($app_health->{ahead}, git("-C $app rev-list --count origin/main..HEAD"),
   "and how far it is ahead of origin's main ($app_health->{ahead})");
is_deeply([ sort keys %$app_health ], [qw(ahead branch head name)],
          'no more: no status scan for a summary asked every second');
my (undef, $full) = $e->api('GET', '/git');
my ($app_full) = grep { $_->{name} eq 'app' } @{ $full->{repositories} };
is_deeply($app_health, { map { $_ => $app_full->{$_} } qw(name branch head ahead) },
          'the same as GET /git says (which adds base and dirty)');
# a branch switched in a shell (no engine call): seen at the next scan
git("-C $app checkout -q -b side");
ok(poll_until(10, sub { my (undef, $h) = $e->api('GET', '/healthz');
                        grep { $_->{name} eq 'app' && ($_->{branch} // '') eq 'side' } @{ $h->{repositories} } }),
   'a branch switched in a shell is in /healthz within a scan');
git("-C $app checkout -q replicas/ws1");
git("-C $app branch -q -D side");
ok(poll_until(10, sub { my (undef, $h) = $e->api('GET', '/healthz');
                        grep { $_->{name} eq 'app' && ($_->{branch} // '') eq 'replicas/ws1' } @{ $h->{repositories} } }),
   'and back');
is_deeply([ map { $_->{state} } @{ $j->{chats} } ], ['idle'], 'and the chat, idle');

# --- POST /git/push: now -----------------------------------------------------------------
($st, $j) = $e->api('POST', '/git/push?repo=app');
is($st, 502, 'pushing while the remote is gone: 502');
is($j->{error}{code}, 'push_failed', 'push_failed');
rename "$remote.gone", $remote or die;
($st, $j) = $e->api('POST', '/git/push?repo=app');
is($st, 200, 'POST /git/push') or diag explain $j;
is($j->{sha}, $c3->{payload}{sha}, 'the new commit');
is(git("--git-dir=$remote rev-parse refs/heads/replicas/ws1"), $c3->{payload}{sha},
   'the remote has it now');
($st) = $e->api('POST', '/git/push?repo=nope');
is($st, 404, 'an unknown repository: 404');

unlike($e->log_text, qr/sk-ant-test|write the greeting|ada\@example/, 'no secrets or text in the log');

done_testing();
