<?php
/**
 * syncd hooks for WHMCS, version 0.2.0: tells syncd (the WHMCS ⇄ WordPress user synchroniser) at once
 * that a client changed, so that syncd looks at that client now instead of at its next poll.
 *
 * Install: copy this one file into WHMCS's includes/hooks/ (WHMCS loads every .php file there).
 * Written by `syncd companion whmcs --out DIR`.
 *
 * Configure in configuration.php (recommended: this file then stays as shipped, and a newer version
 * replaces it as it is), or in the two define() lines below:
 *   define('SYNCD_INTAKE_URL', 'https://sync.example.com:8787');   // syncd's [intake], its base URL
 *   define('SYNCD_INTAKE_SECRET', 'the [intake] secret');            // shared with syncd
 * With neither set it does nothing and logs nothing; with only one, it sends nothing and says in
 * WHMCS's Activity Log what is missing.
 *
 * What it sends, one signed POST {SYNCD_INTAKE_URL}/v1/events per client per WHMCS request
 * (DESIGN §10 of syncd), the body {"side":"whmcs","event":...,"id":...,"email":...}:
 *   ClientAdd, ClientEdit, ClientClose  "changed", id = the client's id, email = the client's email
 *                                       (ClientClose gives no email: "" — syncd reads the client,
 *                                       and its Closed status, by id)
 *   PreDeleteClient                     "deleted", id = the client's id, email "" (WHMCS gives only
 *                                       the id); syncd decides deletions only at its next full listing
 *   UserAdd, UserEdit                   a WHMCS 8 user is a login, not a client: "changed" for each
 *                                       client the user OWNS, id = that client's id, email "" (asked
 *                                       of WHMCS with localAPI('GetUsers'), WHMCS 8.1+); nothing when
 *                                       the user owns none. Where WHMCS cannot say (8.0, an error):
 *                                       "changed", id = the USER's id, email = the user's email, for
 *                                       syncd to find the client by the email; left out then when the
 *                                       same request reports a client with that email (its owner,
 *                                       edited with it).
 *   ClientChangePassword                "password", id = the client's id, email "", and "password": the
 *                                       new password (DESIGN §11; syncd sets it on the linked WordPress
 *                                       user when its [passwords] carry = true, and drops it otherwise)
 *   UserChangePassword                  "password" for each client the user owns (found by paging
 *                                       through GetUsers, for WHMCS gives only the user's id); nothing,
 *                                       and one Activity Log line, when WHMCS cannot say which
 *   ClientAdd, UserAdd with a password  "password" instead of "changed", with it — except when the account
 *                                       is made through the External API (includes/api.php): syncd's own
 *                                       AddClient gives a password nobody should get (random, or the
 *                                       WordPress one already), so that event goes as "changed"
 * A password goes only to an https:// URL or to http:// on this host's loopback (127.0.0.1,
 * localhost, [::1]); to any other URL the event goes as "changed" without it, and the Activity Log
 * says so once per request. A password never goes with a user's id (it could name another client).
 * Events for the same client within one request are sent once ("deleted" wins, then a password, the
 * newest; a client's own event wins over its owner's, and takes the owner's password), when the
 * request ends (a shutdown function), so that the page's own work is not held up by each hook.
 *
 * What it does not do: it never logs a password (nor sends any other field: syncd reads the client
 * itself), decides nothing, retries nothing (syncd's next poll finds every change a lost event
 * announced; a lost password is lost: the person uses WordPress's reset), never prints, never throws
 * into WHMCS, never holds a request more than 3 s in total (connect 2 s), and logs a failure as one
 * line in WHMCS's Activity Log, without the secret.
 * It sends with PHP's curl functions (WHMCS requires the curl extension). It needs PHP 8.0 or later,
 * and under PHP 7 does nothing at all.
 */

// Not inside WHMCS (e.g. the file requested directly over the web): do nothing. Nor under PHP 7
// (older WHMCS 8 versions run on it): this file needs PHP 8, and is written so that PHP 7.2+ still
// parses it, for a parse error in includes/hooks/ would stop every WHMCS page; syncd's poll does the
// job there.
if (!defined('WHMCS') || !function_exists('add_hook') || PHP_VERSION_ID < 80000) {
    return;
}

if (!defined('SYNCD_INTAKE_URL')) {
    define('SYNCD_INTAKE_URL', '');    // e.g. 'https://sync.example.com:8787'; '' = off
}
if (!defined('SYNCD_INTAKE_SECRET')) {
    define('SYNCD_INTAKE_SECRET', ''); // syncd's [intake] secret; '' = off
}

// Declared inside this block, so a second copy of the file (loaded under another name) finds the
// class and registers nothing twice: a top-level declaration is bound when the file is compiled,
// and the second copy would stop the page with "Cannot declare class".
if (!class_exists('Syncd_Whmcs_Hooks', false)) {
    final class Syncd_Whmcs_Hooks
    {
        public const VERSION = '0.2.0';
        /** WHMCS runs hooks of the same point by ascending priority; this one only takes note. */
        public const PRIORITY = 1;
        public const CONNECT_TIMEOUT_MS = 2000;
        /** The most one request may take, and the most all of a WHMCS request's events may take. */
        public const TOTAL_TIMEOUT_MS = 3000;
        /** Events kept per WHMCS request (a mass import): the rest are left to syncd's next poll. */
        public const MAX_EVENTS = 500;
        /** GetUsers page size when a user is looked for by id (UserChangePassword gives no email). */
        public const USERS_PAGE = 100;
        /** The longest password sent (the intake's limit, in characters; bytes are a safe bound). */
        public const MAX_PASSWORD = 4096;

        // No typed properties, arrow functions, ??= nor match here: PHP 7.2 must parse this file.

        /**
         * What the request reported, in order: "client:ID" or "user:EMAIL" → the event's payload.
         *
         * @var array<string, array<string, int|string>>
         */
        private static $pending = [];
        /** @var int */
        private static $dropped = 0;
        /** @var bool */
        private static $armed = false;

        public static function register(): void
        {
            // The variable names are WHMCS's hook reference's (hooks-reference/client.md, user.md).
            // ClientAdd's client id is `client_id`; its `userid` (the same id) is deprecated.
            add_hook('ClientAdd', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    $id = self::field($vars, 'client_id') ?? self::field($vars, 'userid');
                    self::client('changed', $id, self::field($vars, 'email'), self::signupPassword($vars));
                });
            });
            add_hook('ClientEdit', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::client('changed', self::field($vars, 'userid'), self::field($vars, 'email'));
                });
            });
            add_hook('ClientClose', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::client('changed', self::field($vars, 'userid'), null);
                });
            });
            add_hook('PreDeleteClient', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::client('deleted', self::field($vars, 'userid'), null);
                });
            });
            add_hook('UserAdd', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::user(self::field($vars, 'user_id'), self::field($vars, 'email'),
                        self::signupPassword($vars));
                });
            });
            add_hook('UserEdit', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::user(self::field($vars, 'user_id'), self::field($vars, 'email'));
                });
            });
            // Passwords (DESIGN §11): hooks-reference/client.md and user.md give both points `userid`
            // (the client's id, the user's id) and `password`, "the new password".
            add_hook('ClientChangePassword', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::client('password', self::field($vars, 'userid'), null, self::field($vars, 'password'));
                });
            });
            add_hook('UserChangePassword', self::PRIORITY, static function ($vars): void {
                self::guarded(static function () use ($vars): void {
                    self::user(self::field($vars, 'userid'), null, self::field($vars, 'password'));
                });
            });
        }

        /**
         * A client changed (or is about to be deleted, or has a new password): one event for it,
         * whatever else it gets. "deleted" wins; otherwise a password wins over "changed" (it also says
         * "look at this client"), and the newest password over an older one.
         */
        public static function client(string $event, mixed $rawId, mixed $rawEmail, mixed $rawPassword = null): void
        {
            $id = self::id($rawId);
            if ($id === null || !self::wanted()) {
                return;
            }
            $email = self::email($rawEmail);
            $password = self::password($rawPassword);
            $event = $password !== null && $event !== 'deleted' ? 'password' : ($event === 'password' ? 'changed' : $event);
            $key = 'client:' . $id;
            if (isset(self::$pending[$key])) {
                $was = self::$pending[$key];
                $email = $email !== '' ? $email : (string) $was['email'];
                if ($was['event'] === 'deleted' || $event === 'deleted') {
                    $event = 'deleted';
                    $password = null;
                } elseif ($password === null && $was['event'] === 'password') {
                    $event = 'password';
                    $password = (string) $was['password'];
                }
            }
            self::queue($key, self::event($event, $id, $email, $password));
        }

        /**
         * A WHMCS user (a login, WHMCS 8) changed: syncd knows clients, not users, so at the end of the
         * request it becomes an event for each client the user owns (resolved()). Taken note of by the
         * email (GetUsers searches by it), so nothing without one.
         */
        public static function user(mixed $rawId, mixed $rawEmail, mixed $rawPassword = null): void
        {
            $id = self::id($rawId);
            $email = self::email($rawEmail);
            $password = self::password($rawPassword);
            // UserChangePassword gives only the user's id: taken note of by it, and its clients found by
            // paging through GetUsers (resolved()); nothing else is sent for it.
            if ($id === null || ($email === '' && $password === null) || !self::wanted()) {
                return;
            }
            $key = $email !== '' ? 'user:' . strtolower($email) : 'user:#' . $id;
            if ($password === null && isset(self::$pending[$key]) && self::$pending[$key]['event'] === 'password') {
                $password = (string) self::$pending[$key]['password'];
            }
            self::queue($key, self::event($password !== null ? 'password' : 'changed', $id, $email, $password));
        }

        /**
         * One event's payload, as DESIGN §10 has it; a password event (DESIGN §11) carries "password".
         *
         * @return array<string, int|string>
         */
        public static function event(string $event, int $id, string $email, ?string $password = null): array
        {
            $payload = ['side' => 'whmcs', 'event' => $event, 'id' => $id, 'email' => $email];
            if ($event === 'password' && $password !== null) {
                $payload['password'] = $password;
            }
            return $payload;
        }

        /**
         * Sends what the request reported; runs once, as PHP's request ends (after an exit() too, which
         * WHMCS uses for its redirects). It does not end WHMCS's response early (fastcgi_finish_request):
         * WHMCS's own shutdown work may still need it; the cost is small, since the intake answers at
         * once and sendAll() holds the request TOTAL_TIMEOUT_MS at most even when the intake hangs.
         */
        public static function flush(): void
        {
            self::$armed = false;
            $pending = self::$pending;
            $dropped = self::$dropped;
            self::$pending = [];
            self::$dropped = 0;
            try {
                $deadline = hrtime(true) + self::TOTAL_TIMEOUT_MS * 1000000;
                if ($dropped > 0) {
                    self::log(sprintf('syncd: %d more client(s) changed in this request than the %d reported; '
                        . "syncd's next poll will find them", $dropped, self::MAX_EVENTS));
                }
                if ($pending === []) {
                    return;
                }
                $problem = self::configProblem();
                if ($problem !== null) {
                    self::log(sprintf('syncd: %d event(s) not sent: %s', count($pending), $problem));
                    return;
                }
                $events = self::resolved($pending, $deadline);
                if (!self::passwordsMayGo()) {
                    $events = self::withoutPasswords($events);
                }
                self::sendAll($events, $deadline);
            } catch (\Throwable $e) {
                self::log('syncd: events not sent (' . get_class($e) . "); syncd's next poll will find the changes");
            }
        }

        /**
         * The events to send: each user's turned into one per client the user owns (a client's own
         * event of this request wins: it says more, its email or a deletion). When WHMCS cannot say
         * which clients the user owns, or time is up, the user's event goes as it is, with the user's
         * id and email, unless this request reports a client with that email (the user's client,
         * most likely: a client's owner is edited with it, and shares its email).
         *
         * @param array<string, array<string, int|string>> $pending
         * @return list<array<string, int|string>>
         */
        private static function resolved(array $pending, int $deadline): array
        {
            $events = [];
            foreach ($pending as $key => $payload) {
                if (!str_starts_with($key, 'user:')) {
                    $events[$key] = $payload;
                    continue;
                }
                $owned = hrtime(true) < $deadline
                    ? self::ownedClients((int) $payload['id'], (string) $payload['email'], $deadline)
                    : null;
                $password = $payload['event'] === 'password' ? (string) $payload['password'] : null;
                if ($owned === null) {
                    if ($password !== null) {
                        // A password never goes with a user's id: it could name another client.
                        self::log(sprintf('syncd: the new password of WHMCS user #%d was not sent: WHMCS did not say '
                            . 'which clients the user owns (GetUsers, WHMCS 8.1+)', (int) $payload['id']));
                    }
                    if ($payload['email'] !== '' && !self::reportsEmail($pending, (string) $payload['email'])) {
                        $events[$key] = self::event('changed', (int) $payload['id'], (string) $payload['email']);
                    }
                    continue;
                }
                foreach ($owned as $clientId) {
                    $was = $events['client:' . $clientId] ?? null;
                    if ($was === null) {
                        $events['client:' . $clientId] = self::event($password !== null ? 'password' : 'changed',
                            $clientId, '', $password);
                    } elseif ($password !== null && $was['event'] === 'changed') {
                        // The client's own event says more (its email); the owner's password goes with it.
                        $events['client:' . $clientId] = self::event('password', $clientId, (string) $was['email'],
                            $password);
                    }
                }
            }
            return array_values($events);
        }

        /** @param array<string, array<string, int|string>> $pending */
        private static function reportsEmail(array $pending, string $email): bool
        {
            foreach ($pending as $key => $payload) {
                if (str_starts_with($key, 'client:') && strcasecmp((string) $payload['email'], $email) === 0) {
                    return true;
                }
            }
            return false;
        }

        /**
         * The ids of the clients a WHMCS user owns, asked of WHMCS's local API (GetUsers, WHMCS 8.1+:
         * it searches by the start of the email and lists each user's clients with isOwner); null
         * when WHMCS cannot say (no localAPI(), an older WHMCS, an error).
         *
         * @return list<int>|null
         */
        private static function ownedClients(int $userId, string $email, int $deadline): ?array
        {
            if (!function_exists('localAPI')) {
                return null;
            }
            if ($email !== '') {
                $answer = self::getUsers(['search' => $email]);
                return $answer === null ? null : (self::ownedIn($answer, $userId) ?? []); // none: nothing changed
            }
            // Only the id (UserChangePassword): GetUsers cannot search by it, so its pages are read
            // until the user is found, the list ends or time is up.
            for ($start = 0; hrtime(true) < $deadline; $start += self::USERS_PAGE) {
                $answer = self::getUsers(['limitstart' => $start, 'limitnum' => self::USERS_PAGE]);
                if ($answer === null) {
                    return null;
                }
                $owned = self::ownedIn($answer, $userId);
                if ($owned !== null) {
                    return $owned;
                }
                if (count($answer['users']) < self::USERS_PAGE) {
                    return [];
                }
            }
            return null;
        }

        /**
         * A GetUsers answer (api-reference/getusers.md), or null on an error.
         *
         * @param array<string, int|string> $query
         * @return array{users: list<mixed>}|null
         */
        private static function getUsers(array $query): ?array
        {
            try {
                $answer = localAPI('GetUsers', $query);
            } catch (\Throwable $e) {
                return null;
            }
            if (!is_array($answer) || ($answer['result'] ?? '') !== 'success' || !is_array($answer['users'] ?? null)) {
                return null;
            }
            return ['users' => array_values($answer['users'])];
        }

        /**
         * The ids of the clients user $userId owns, from one GetUsers answer; null if it is not in it.
         *
         * @param array{users: list<mixed>} $answer
         * @return list<int>|null
         */
        private static function ownedIn(array $answer, int $userId): ?array
        {
            foreach ($answer['users'] as $user) {
                if (!is_array($user) || self::id($user['id'] ?? null) !== $userId) {
                    continue; // another user whose email starts the same
                }
                $owned = [];
                foreach (is_array($user['clients'] ?? null) ? $user['clients'] : [] as $client) {
                    $clientId = is_array($client) && !empty($client['isOwner']) ? self::id($client['id'] ?? null) : null;
                    if ($clientId !== null) {
                        $owned[] = $clientId;
                    }
                }
                return $owned;
            }
            return null;
        }

        /**
         * Whether a password may be sent to SYNCD_INTAKE_URL: over https://, or http:// to this host's
         * loopback (127.0.0.1, localhost, [::1]) where nothing crosses a network. The intake refuses a
         * password event otherwise (403), but then it has already crossed the network in clear.
         */
        private static function passwordsMayGo(): bool
        {
            $url = is_string(SYNCD_INTAKE_URL) ? trim(SYNCD_INTAKE_URL) : '';
            $scheme = strtolower((string) parse_url($url, PHP_URL_SCHEME));
            $host = strtolower(trim((string) parse_url($url, PHP_URL_HOST), '[]'));
            return $scheme === 'https' || ($scheme === 'http' && in_array($host, ['127.0.0.1', 'localhost', '::1'], true));
        }

        /**
         * The events with each password event turned into "changed" and its password left out, said
         * once per request in the Activity Log.
         *
         * @param list<array<string, int|string>> $events
         * @return list<array<string, int|string>>
         */
        private static function withoutPasswords(array $events): array
        {
            $plain = [];
            $held = 0;
            foreach ($events as $payload) {
                if ($payload['event'] === 'password') {
                    $held++;
                    $payload = self::event('changed', (int) $payload['id'], (string) $payload['email']);
                }
                $plain[] = $payload;
            }
            if ($held > 0) {
                self::log(sprintf('syncd: %d new password(s) not sent (sent as plain changes): SYNCD_INTAKE_URL is '
                    . 'not https:// nor http:// to this host (127.0.0.1, localhost, [::1]); give syncd\'s intake '
                    . 'tls_cert/tls_key and an https:// URL to carry passwords', $held));
            }
            return $plain;
        }

        /**
         * Sends each event on one connection (kept alive) until $deadline for them all, and stops at
         * the first failure: the next would most likely fail the same way, and nothing is retried
         * since syncd's next poll finds every change these events announced.
         *
         * @param list<array<string, int|string>> $events
         */
        private static function sendAll(array $events, int $deadline): void
        {
            if ($events === []) {
                return;
            }
            $count = count($events);
            $url = rtrim(trim((string) SYNCD_INTAKE_URL), '/') . '/v1/events';
            $handle = curl_init();
            if ($handle === false) {
                self::log(sprintf('syncd: %d event(s) not sent: curl_init() failed', $count));
                return;
            }
            foreach ($events as $done => $payload) {
                $left = intdiv($deadline - hrtime(true), 1000000);
                $failure = $left <= 0
                    ? 'the intake took more than ' . self::TOTAL_TIMEOUT_MS . ' ms for this request\'s events'
                    : self::send($handle, $url, $payload, (int) min(self::TOTAL_TIMEOUT_MS, $left));
                if ($failure !== null) {
                    self::log(sprintf("syncd: %d of %d event(s) not sent to %s: %s; syncd's next poll will find "
                        . 'the change(s)', $count - $done, $count, self::shown($url), $failure));
                    return;
                }
            }
        }

        /**
         * POSTs one payload, signed as DESIGN §10 says: hex HMAC-SHA256 with the secret over
         * "timestamp.body", the body being the exact bytes sent. Returns null when the intake took
         * it (2xx), else what went wrong, in words for the Activity Log.
         *
         * @param array<string, int|string> $payload
         */
        public static function send(\CurlHandle $handle, string $url, array $payload, int $timeoutMs): ?string
        {
            $body = json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
            if ($body === false) {
                return 'an event could not be encoded as JSON';
            }
            $timestamp = (string) time();
            $signature = hash_hmac('sha256', $timestamp . '.' . $body, (string) SYNCD_INTAKE_SECRET);
            curl_setopt_array($handle, [
                CURLOPT_URL => $url,
                CURLOPT_POST => true,
                CURLOPT_POSTFIELDS => $body,
                CURLOPT_HTTPHEADER => [
                    'Content-Type: application/json',
                    'X-Syncd-Timestamp: ' . $timestamp,
                    'X-Syncd-Signature: ' . $signature,
                    'Expect:', // no "100-continue" round trip
                ],
                CURLOPT_RETURNTRANSFER => true, // the answer is never printed into WHMCS's page
                CURLOPT_FOLLOWLOCATION => false,
                CURLOPT_NOSIGNAL => true,       // timeouts under a second without SIGALRM
                CURLOPT_CONNECTTIMEOUT_MS => min(self::CONNECT_TIMEOUT_MS, $timeoutMs),
                CURLOPT_TIMEOUT_MS => $timeoutMs,
                CURLOPT_USERAGENT => 'syncd-whmcs-hooks/' . self::VERSION,
            ]);
            if (curl_exec($handle) === false) {
                return 'could not reach it (' . curl_error($handle) . ')';
            }
            $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
            if ($status >= 200 && $status < 300) {
                return null;
            }
            if ($status === 401) {
                // A replay is refused with 401 too, and two WHMCS requests reporting the same client
                // within one second send the same bytes, hence the same signature.
                return 'HTTP 401, the intake refused the signature: SYNCD_INTAKE_SECRET must be syncd\'s '
                    . '[intake] secret, and this server\'s clock within 300 s of syncd\'s (or the same event '
                    . 'was sent twice within a second)';
            }
            if ($status === 404) {
                return 'HTTP 404: SYNCD_INTAKE_URL must be the intake\'s base URL (without /v1/events)';
            }
            if ($status === 400 || $status === 413) {
                return "HTTP $status, the intake refused the event: this file and syncd may be of "
                    . 'different versions; write this file again with `syncd companion whmcs`';
            }
            return "HTTP $status";
        }

        /** Why events cannot be sent as configured (in words), or null. */
        private static function configProblem(): ?string
        {
            if (!function_exists('curl_init')) {
                return 'PHP\'s curl extension is not loaded; enable it (WHMCS requires it)';
            }
            $url = is_string(SYNCD_INTAKE_URL) ? trim(SYNCD_INTAKE_URL) : '';
            $secret = is_string(SYNCD_INTAKE_SECRET) ? SYNCD_INTAKE_SECRET : '';
            if ($url === '') {
                return 'SYNCD_INTAKE_SECRET is set but SYNCD_INTAKE_URL is empty; set it to syncd\'s intake '
                    . '(e.g. https://sync.example.com:8787)';
            }
            if ($secret === '') {
                return 'SYNCD_INTAKE_URL is set but SYNCD_INTAKE_SECRET is empty; set it to syncd\'s [intake] secret';
            }
            $scheme = strtolower((string) parse_url($url, PHP_URL_SCHEME));
            $host = parse_url($url, PHP_URL_HOST);
            if (!in_array($scheme, ['http', 'https'], true) || !is_string($host) || $host === '') {
                // The value itself is not logged: a mistake might have put the secret there.
                return 'SYNCD_INTAKE_URL is not an http:// or https:// URL; set it to syncd\'s intake '
                    . '(e.g. https://sync.example.com:8787)';
            }
            return null;
        }

        /** Whether to take note of events: either constant is set (a half-set one is logged at the end). */
        private static function wanted(): bool
        {
            return (is_string(SYNCD_INTAKE_URL) && trim(SYNCD_INTAKE_URL) !== '')
                || (is_string(SYNCD_INTAKE_SECRET) && SYNCD_INTAKE_SECRET !== '');
        }

        /** @param array<string, int|string> $payload */
        private static function queue(string $key, array $payload): void
        {
            if (!isset(self::$pending[$key]) && count(self::$pending) >= self::MAX_EVENTS) {
                self::$dropped++;
            } else {
                self::$pending[$key] = $payload;
            }
            if (!self::$armed) {
                self::$armed = true;
                register_shutdown_function([self::class, 'flush']);
            }
        }

        /** A hook must never throw into WHMCS: its admin action or page goes on whatever happens here. */
        private static function guarded(callable $work): void
        {
            try {
                $work();
            } catch (\Throwable $e) {
                self::log('syncd: an event could not be prepared (' . get_class($e) . ')');
            }
        }

        /**
         * ClientAdd's and UserAdd's `password`, unless the account is being created through WHMCS's
         * External API (includes/api.php): that is syncd creating a client for a WordPress user (its
         * password is a random one nobody knows, or the WordPress password itself), or another program
         * that owns its own passwords. Carried back, a random one would lock the person out of WordPress.
         * A sign-up in the client area, the cart or the admin area is carried.
         */
        private static function signupPassword(mixed $vars): mixed
        {
            return self::byExternalApi() ? null : self::field($vars, 'password');
        }

        /** The request is WHMCS's External API: its endpoint is includes/api.php (api/getting-started.md). */
        private static function byExternalApi(): bool
        {
            $script = $_SERVER['SCRIPT_FILENAME'] ?? ($_SERVER['SCRIPT_NAME'] ?? '');
            $script = str_replace('\\', '/', is_string($script) ? $script : '');
            return strtolower(basename($script)) === 'api.php' && strtolower(basename(dirname($script))) === 'includes';
        }

        private static function field(mixed $vars, string $name): mixed
        {
            return is_array($vars) ? ($vars[$name] ?? null) : null;
        }

        /** A positive id, given as an int or as a string of digits (WHMCS passes either). */
        private static function id(mixed $raw): ?int
        {
            if (is_bool($raw)) {
                return null;
            }
            $id = filter_var($raw, FILTER_VALIDATE_INT, ['options' => ['min_range' => 1]]);
            return is_int($id) ? $id : null;
        }

        private static function email(mixed $raw): string
        {
            return is_string($raw) ? trim($raw) : '';
        }

        /** A password as WHMCS gave it (never trimmed: spaces may be part of it), or null for none. */
        private static function password(mixed $raw): ?string
        {
            return is_string($raw) && $raw !== '' && strlen($raw) <= self::MAX_PASSWORD ? $raw : null;
        }

        /** The intake as the log shows it: scheme, host and port, never a user:password@ or query. */
        private static function shown(string $url): string
        {
            $scheme = (string) parse_url($url, PHP_URL_SCHEME);
            $host = (string) parse_url($url, PHP_URL_HOST);
            $port = parse_url($url, PHP_URL_PORT);
            return $scheme . '://' . $host . (is_int($port) ? ':' . $port : '');
        }

        /** One line in WHMCS's Activity Log; never the secret, never a password. */
        private static function log(string $line): void
        {
            if (!function_exists('logActivity')) {
                return;
            }
            try {
                logActivity($line, 0);
            } catch (\Throwable $e) {
                // The log is not worth breaking WHMCS's request for.
            }
        }
    }

    Syncd_Whmcs_Hooks::register();
}
