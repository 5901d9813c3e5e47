<?php
/**
 * Plugin Name:       syncd companion
 * Description:       Lets syncd (the WHMCS ⇄ WordPress user synchroniser) read and write the user meta it maps, such as WooCommerce's billing address and phone, through the REST API — only for users who can edit users — and tells syncd's intake at once when a user changes.
 * Version:           0.3.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * License:           MIT
 *
 * Install: copy this one file into wp-content/plugins/ and activate it, or drop it into
 * wp-content/mu-plugins/ (it then needs no activation). Written by `syncd companion wordpress --out DIR`.
 *
 * Configure in wp-config.php (each optional):
 *   define('SYNCD_META_KEYS', 'billing_phone,billing_address_1');   // default: WooCommerce's billing keys
 *   define('SYNCD_INTAKE_URL', 'https://sync.example.com:8787');     // syncd's [intake]; events are off without it
 *   define('SYNCD_INTAKE_SECRET', 'the [intake] secret of syncd');    // ... and without this
 *   define('SYNCD_LOGIN_FALLBACK', true);  // log in with the WHMCS password (needs the two above and syncd's
 *                                          // [passwords] carry = true; see Syncd_Companion_Login below)
 *
 * What it does: registers each meta key of SYNCD_META_KEYS for users, as a single string shown in the
 * REST API's `meta` (/wp/v2/users) in the `edit` context only, readable and writable only by a user who
 * can edit users; values are sanitised the way WooCommerce stores them. A key something else already
 * registered is left as it is. GET /wp-json/syncd/v1/companion tells syncd (as a user who can list
 * users) this file's version and the keys it registered.
 *
 * Events (DESIGN §10), when both SYNCD_INTAKE_URL and SYNCD_INTAKE_SECRET are set: a user created,
 * updated, deleted, given or losing a role, or one of the SYNCD_META_KEYS (or first/last name, nickname,
 * description) written on its own, is reported to POST {SYNCD_INTAKE_URL}/v1/events as
 * {"side":"wordpress","event":"changed"|"deleted","id":USER_ID,"email":"..."}, signed with
 * X-Syncd-Timestamp and X-Syncd-Signature (hex HMAC-SHA256 of "TIMESTAMP.BODY" keyed with the secret).
 * One event per user per request ("deleted" wins), sent when the request ends (after the response
 * where PHP-FPM or LiteSpeed allows it), 2 s timeout. What syncd did not take because it was down or
 * failing (no answer, 408, 429, 5xx) is kept (500 users at most) and retried every minute from WP-Cron;
 * what it refused (another 4xx: a wrong secret, a clock off by minutes, a wrong URL) is dropped and
 * shown in Site Health. An event only says "look at this user now": syncd decides.
 *
 * Passwords (DESIGN §11): where WordPress sets a password in plain text — a user created with one (REST,
 * wp_insert_user, wp-admin's Add New User), a REST update of `password`, wp-admin's profile and user-edit
 * forms, the reset form, and wp_set_password() on WordPress 6.2+ — the user's event becomes
 * {"side":"wordpress","event":"password","id":USER_ID,"email":"...","password":"..."} ("deleted" still
 * wins, a password wins over "changed", the newest password over an older one). syncd uses it only with
 * its [passwords] carry = true. A password is sent only to an https:// SYNCD_INTAKE_URL or to http:// on
 * this host's loopback (otherwise the event goes as "changed" and debug.log says so, without it), is
 * never kept: an event that cannot be sent now is kept as "changed", and is never logged. Not reported:
 * the password syncd itself sets through REST (it came from WHMCS), the one the login fallback sets
 * (action syncd_companion_fallback_password), and the random one wp-login.php's registration form
 * gives a new account (the person sets theirs through the emailed link: that one is reported).
 *
 * It must never break a page: nothing here runs outside WordPress, and a second copy (installed both
 * as a plugin and as a mu-plugin) does nothing. Everything is declared inside the `if` below, so PHP
 * binds it only when the block runs: a top-level declaration would be bound when the file is compiled,
 * and a second copy would stop the page with "Cannot redeclare". Sending catches everything and prints
 * nothing; its errors go to debug.log only with WP_DEBUG_LOG, and never carry the secret.
 */

if (!defined('ABSPATH')) {
    return; // not inside WordPress
}

if (!defined('SYNCD_COMPANION_VERSION')) {
    define('SYNCD_COMPANION_VERSION', '0.3.0');

    final class Syncd_Companion
    {
        /** WooCommerce's customer billing meta (class-wc-customer-data-store.php). */
        public const DEFAULT_META_KEYS = [
            'billing_first_name', 'billing_last_name', 'billing_company', 'billing_address_1',
            'billing_address_2', 'billing_city', 'billing_state', 'billing_postcode', 'billing_country',
            'billing_email', 'billing_phone',
        ];

        /** @var string[] the keys this file registered (keys registered by something else are not in it) */
        private static array $registered = [];

        public static function boot(): void
        {
            // After plugins that register these keys their own way at the default priority.
            add_action('init', [self::class, 'register_meta'], 20);
            add_filter('rest_prepare_user', [self::class, 'hide_meta'], 10, 2);
            add_action('rest_api_init', [self::class, 'routes']);
        }

        /**
         * The keys to register: SYNCD_META_KEYS (a comma-separated string, or an array) when defined,
         * else WooCommerce's billing keys. Names that are not plain key names (letters, digits, _ and -,
         * at most 255 characters, not starting with _, which WordPress treats as protected) are left out.
         *
         * @return string[]
         */
        public static function meta_keys(): array
        {
            $raw = defined('SYNCD_META_KEYS') ? constant('SYNCD_META_KEYS') : null;
            if (is_string($raw)) {
                $given = explode(',', $raw);
            } elseif (is_array($raw)) {
                $given = $raw;
            } else {
                return self::DEFAULT_META_KEYS;
            }
            $keys = [];
            foreach ($given as $key) {
                if (!is_string($key)) {
                    continue;
                }
                $key = trim($key);
                if (preg_match('/^[A-Za-z0-9][A-Za-z0-9_\-]{0,254}$/', $key) === 1) {
                    $keys[$key] = true;
                }
            }
            return array_keys($keys);
        }

        /** As WooCommerce stores it: an email key as an email, anything else as one line of plain text. */
        public static function sanitize($value, $meta_key = ''): string
        {
            if (!is_scalar($value)) {
                return '';
            }
            $value = (string) $value;
            if (is_string($meta_key) && str_ends_with($meta_key, '_email')) {
                return sanitize_email($value);
            }
            return sanitize_text_field($value);
        }

        /** Who may write a registered key of a user: someone who can edit users, and that user. */
        public static function may_edit($allowed, $meta_key = '', $user_id = 0): bool
        {
            return self::can_edit((int) $user_id);
        }

        private static function can_edit(int $user_id): bool
        {
            return current_user_can('edit_users') && current_user_can('edit_user', $user_id);
        }

        public static function register_meta(): void
        {
            foreach (self::meta_keys() as $key) {
                if (registered_meta_key_exists('user', $key)) {
                    continue; // the site (or WooCommerce) registered it its own way
                }
                $ok = register_meta('user', $key, [
                    'type' => 'string',
                    'single' => true,
                    'default' => '',
                    'description' => 'Mapped by syncd',
                    // The edit context only: a user shown to the public never carries it.
                    'show_in_rest' => ['schema' => ['type' => 'string', 'context' => ['edit']]],
                    'sanitize_callback' => [self::class, 'sanitize'],
                    'auth_callback' => [self::class, 'may_edit'],
                ]);
                if ($ok) {
                    self::$registered[] = $key;
                }
            }
        }

        /**
         * Reads, belt and braces: a REST user shown to someone who cannot edit users carries none of
         * the keys, whatever the context asked for.
         */
        public static function hide_meta($response, $user = null)
        {
            if (!($response instanceof WP_REST_Response) || !($user instanceof WP_User)
                || self::can_edit((int) $user->ID)) {
                return $response;
            }
            $data = $response->get_data();
            if (is_array($data) && isset($data['meta']) && is_array($data['meta'])) {
                foreach (self::$registered as $key) {
                    unset($data['meta'][$key]);
                }
                $response->set_data($data);
            }
            return $response;
        }

        public static function routes(): void
        {
            register_rest_route('syncd/v1', '/companion', [
                'methods' => 'GET',
                'callback' => [self::class, 'describe'],
                'permission_callback' => static function (): bool {
                    return current_user_can('list_users');
                },
            ]);
        }

        /** @return array<string, mixed> */
        public static function describe(): array
        {
            return [
                'version' => SYNCD_COMPANION_VERSION,
                'meta_keys' => self::$registered,
                'configured_meta_keys' => self::meta_keys(),
            ];
        }
    }

    /**
     * Tells syncd's intake which users changed (DESIGN §10). Collects during the request, one event per
     * user; sends when the request ends; keeps what could not be sent in an option, retried from WP-Cron.
     * deliver() is the one function that sends a payload: password events (issue 14) will go through it,
     * never through the queue, so that no password is ever stored in the database.
     */
    final class Syncd_Companion_Events
    {
        public const SENT = 'sent';
        public const RETRY = 'retry';      // syncd down or failing: keep it and try again
        public const REFUSED = 'refused';  // syncd said no (a configuration problem): do not try again

        public const RETRY_HOOK = 'syncd_companion_retry';
        public const RETRY_SCHEDULE = 'syncd_companion_every_minute';
        public const RETRY_SECONDS = 60;
        public const QUEUE_OPTION = 'syncd_companion_pending';
        public const REFUSED_OPTION = 'syncd_companion_refused';
        /** Users kept at most: beyond, the oldest are dropped (syncd's next poll still finds them). */
        public const QUEUE_LIMIT = 500;
        public const TIMEOUT_SECONDS = 2;
        /** The time a page request may spend sending, then the rest is queued: a bulk edit of 200
         *  users with syncd hanging would otherwise cost 200 × the timeout. The first failure also
         *  stops sending, for the same reason. */
        public const REQUEST_BUDGET_SECONDS = 5;
        public const CRON_BUDGET_SECONDS = 30;
        /** A refusal is logged again after this long, not at every event. */
        public const REFUSAL_LOG_SECONDS = 3600;

        /** Profile fields kept in user meta that a plugin may write without wp_update_user(). */
        private const CORE_META_KEYS = ['first_name', 'last_name', 'nickname', 'description'];

        /** @var array<int, array{event: string, email: string, password?: string}> this request's events, by
         *  user id; a password lives here (memory) until the request ends, never in the database */
        private static array $events = [];

        /** @var array<int, bool> users whose password the login fallback set in this request */
        private static array $fallback = [];

        /** The longest password sent (the intake's limit is 4096 characters; bytes are a safe bound). */
        public const MAX_PASSWORD = 4096;

        /** @var array<string, bool>|null */
        private static ?array $watched = null;

        public static function boot(): void
        {
            foreach (['user_register', 'profile_update', 'set_user_role', 'add_user_role', 'remove_user_role'] as $hook) {
                add_action($hook, [self::class, 'changed'], 10, 1);
            }
            // Before the user is gone: the email is read then (delete_user runs before the rows go).
            add_action('delete_user', [self::class, 'deleted'], 10, 1);
            add_action('wpmu_delete_user', [self::class, 'deleted'], 10, 1);
            // WooCommerce saves billing fields with update_user_meta(), which fires no profile_update.
            foreach (['added_user_meta', 'updated_user_meta', 'deleted_user_meta'] as $hook) {
                add_action($hook, [self::class, 'meta_changed'], 10, 3);
            }
            // Late, after whatever else prints at shutdown: flush() may end the response first.
            add_action('shutdown', [self::class, 'flush'], 1000);
            add_filter('cron_schedules', [self::class, 'schedules']);
            add_action(self::RETRY_HOOK, [self::class, 'retry']);
            add_filter('site_status_tests', [self::class, 'site_health_tests']);
            register_deactivation_hook(__FILE__, [self::class, 'deactivate']);
            Syncd_Companion_Passwords::boot();
        }

        public static function url(): string
        {
            $url = defined('SYNCD_INTAKE_URL') ? constant('SYNCD_INTAKE_URL') : '';
            return is_string($url) ? trim($url) : '';
        }

        private static function secret(): string
        {
            $secret = defined('SYNCD_INTAKE_SECRET') ? constant('SYNCD_INTAKE_SECRET') : '';
            return is_string($secret) ? $secret : '';
        }

        /** Events are on only with both constants set: without the secret syncd would refuse them all. */
        public static function configured(): bool
        {
            return self::url() !== '' && self::secret() !== '';
        }

        public static function endpoint(): string
        {
            return rtrim(self::url(), '/') . '/v1/events';
        }

        /**
         * POST a JSON body to the intake's $path (/v1/events, /v1/verify), signed as DESIGN §10 has it:
         * X-Syncd-Timestamp, and X-Syncd-Signature the hex HMAC-SHA256 of "TIMESTAMP.BODY" keyed with the
         * secret. A redirect is not followed. What wp_remote_post() gives (a WP_Error when nothing answered).
         *
         * @return array<string, mixed>|WP_Error
         */
        public static function post_signed(string $path, string $body, int $timeout)
        {
            $timestamp = (string) time();
            return wp_remote_post(rtrim(self::url(), '/') . $path, [
                'timeout' => $timeout,
                'redirection' => 0,
                'user-agent' => 'syncd-companion/' . SYNCD_COMPANION_VERSION,
                'headers' => [
                    'Content-Type' => 'application/json',
                    'X-Syncd-Timestamp' => $timestamp,
                    'X-Syncd-Signature' => hash_hmac('sha256', $timestamp . '.' . $body, self::secret()),
                ],
                'body' => $body,
            ]);
        }

        /** Hooked to the user actions: only the user id (their first argument) matters. */
        public static function changed($user_id = 0): void
        {
            try {
                self::record((int) $user_id, 'changed');
            } catch (\Throwable $e) {
                self::log('could not note a change of user ' . (int) $user_id . ': ' . $e->getMessage());
            }
        }

        public static function deleted($user_id = 0): void
        {
            try {
                self::record((int) $user_id, 'deleted');
            } catch (\Throwable $e) {
                self::log('could not note the deletion of user ' . (int) $user_id . ': ' . $e->getMessage());
            }
        }

        public static function meta_changed($meta_ids = null, $user_id = 0, $meta_key = ''): void
        {
            if (is_string($meta_key) && isset(self::watched()[$meta_key])) {
                self::changed($user_id);
            }
        }

        /** @return array<string, bool> */
        private static function watched(): array
        {
            if (self::$watched === null) {
                self::$watched = array_fill_keys(array_merge(self::CORE_META_KEYS, Syncd_Companion::meta_keys()), true);
            }
            return self::$watched;
        }

        private static function record(int $id, string $event, ?string $password = null): void
        {
            if ($id <= 0 || !self::configured()) {
                return;
            }
            $had = self::$events[$id] ?? null;
            if ($had !== null && $had['event'] === 'deleted') {
                return; // "deleted" wins over whatever else this request did to the user
            }
            // Read now, while the user exists: a "deleted" event carries the email it had.
            $user = get_userdata($id);
            $email = $user instanceof WP_User ? (string) $user->user_email : ($had['email'] ?? '');
            if ($event === 'password' && ($password === null || isset(self::$fallback[$id]))) {
                $event = 'changed';
                $password = null;
            }
            if ($event === 'changed' && $had !== null && $had['event'] === 'password') {
                return; // a password set earlier in this request also says "look at this user"
            }
            self::$events[$id] = $password === null ? ['event' => $event, 'email' => $email]
                : ['event' => 'password', 'email' => $email, 'password' => $password];
        }

        /**
         * A password WordPress just set for user $id, as the hook gave it. WordPress slashes what it
         * hashes (wp_slash() on REST writes, magic quotes on forms), so the password the person types is
         * the unslashed text. Empty, too long, or holding a backslash (which WordPress refuses in its
         * forms and REST, so unslashing cannot be trusted): the user is reported as "changed" only.
         */
        public static function password($user_id, $raw): void
        {
            try {
                $id = (int) $user_id;
                $plain = is_string($raw) ? wp_unslash($raw) : '';
                $usable = is_string($plain) && $plain !== '' && strlen($plain) <= self::MAX_PASSWORD
                    && !str_contains($plain, '\\');
                self::record($id, $usable ? 'password' : 'changed', $usable ? $plain : null);
            } catch (\Throwable $e) {
                self::log('could not note a new password of user ' . (int) $user_id . ': ' . $e->getMessage());
            }
        }

        /** The login fallback set user $id's password (the WHMCS one coming back): never reported as new. */
        public static function fallback_password($user_id = 0): void
        {
            $id = (int) $user_id;
            if ($id <= 0) {
                return;
            }
            self::$fallback[$id] = true;
            if (isset(self::$events[$id]) && self::$events[$id]['event'] === 'password') {
                self::$events[$id] = ['event' => 'changed', 'email' => self::$events[$id]['email']];
            }
        }

        /**
         * Whether a password may go to SYNCD_INTAKE_URL: over https://, or http:// to this host's loopback
         * (127.0.0.1, localhost, [::1]) where nothing crosses a network. syncd's intake refuses a password
         * event otherwise (403), but by then it would have crossed the network in clear.
         */
        public static function passwords_may_go(): bool
        {
            $url = self::url();
            $scheme = strtolower((string) parse_url($url, PHP_URL_SCHEME));
            $host = strtolower(trim((string) parse_url($url, PHP_URL_HOST), '[]'));
            return $scheme === 'https' || ($scheme === 'http' && in_array($host, ['127.0.0.1', 'localhost', '::1'], true));
        }

        /** The wire payload; a "changed" (or password) user's email is read again, as it is when the event
         *  leaves. A password event carries the password, last.
         *  @return array{side: string, event: string, id: int, email: string, password?: string} */
        private static function payload(int $id, string $event, string $email, ?string $password = null): array
        {
            if ($event !== 'deleted') {
                $user = get_userdata($id);
                if ($user instanceof WP_User) {
                    $email = (string) $user->user_email;
                }
            }
            if ($event === 'password' && $password !== null) {
                return ['side' => 'wordpress', 'event' => 'password', 'id' => $id, 'email' => $email,
                        'password' => $password];
            }
            return ['side' => 'wordpress', 'event' => $event === 'password' ? 'changed' : $event, 'id' => $id,
                    'email' => $email];
        }

        /** At shutdown: send this request's events, keep what could not be sent. */
        public static function flush(): void
        {
            if (self::$events === []) {
                return;
            }
            try {
                $events = self::$events;
                self::$events = [];
                self::$fallback = [];
                if (!self::configured()) {
                    return;
                }
                $mayGo = self::passwords_may_go();
                $held = 0;
                $payloads = [];
                foreach ($events as $id => $e) {
                    $password = $e['password'] ?? null;
                    if ($password !== null && !$mayGo) {
                        $held++;
                        $password = null;
                    }
                    $payloads[$id] = self::payload($id, $e['event'], $e['email'], $password);
                }
                unset($events, $e, $password);
                if ($held > 0) {
                    self::log("$held new password(s) not sent (sent as plain changes): SYNCD_INTAKE_URL is not https:// "
                        . 'nor http:// to this host (127.0.0.1, localhost, [::1]); give syncd\'s intake tls_cert/tls_key '
                        . 'and an https:// SYNCD_INTAKE_URL to carry passwords');
                }
                self::finish_response();
                $left = self::send_all($payloads, self::REQUEST_BUDGET_SECONDS);
                unset($payloads);
                if ($left !== []) {
                    self::enqueue($left); // a password event is kept as "changed": no password rests in the database
                }
            } catch (\Throwable $e) {
                self::log('could not send or keep the events of this request: ' . $e->getMessage());
            }
        }

        /** The visitor gets the whole response before anything is sent, where the server allows it. */
        private static function finish_response(): void
        {
            if (function_exists('ignore_user_abort')) {
                ignore_user_abort(true); // a visitor closing the tab must not cut a send in half
            }
            if (function_exists('fastcgi_finish_request')) {
                fastcgi_finish_request();
            } elseif (function_exists('litespeed_finish_request')) {
                litespeed_finish_request();
            }
            // Apache mod_php and the others: sent before the response ends, bounded by the timeout.
        }

        /**
         * Sends in order until the budget is spent or syncd fails once (then it is down, or hanging:
         * each further try would cost the timeout again).
         *
         * @param array<int, array{side: string, event: string, id: int, email: string, password?: string}> $payloads
         * @return array<int, array{side: string, event: string, id: int, email: string, password?: string}> what to
         *         try again
         */
        private static function send_all(array $payloads, int $budget): array
        {
            $start = microtime(true);
            $left = [];
            $stopped = false;
            foreach ($payloads as $id => $payload) {
                if ($stopped || microtime(true) - $start > $budget) {
                    $left[$id] = $payload;
                    continue;
                }
                if (self::deliver($payload) === self::RETRY) {
                    $left[$id] = $payload;
                    $stopped = true;
                }
            }
            return $left;
        }

        /**
         * POST one payload to the intake, signed. Returns SENT (2xx), RETRY (no answer, 408, 429, 5xx,
         * a redirect is not followed: see below) or REFUSED (any other answer). Never throws.
         *
         * @param array<string, mixed> $payload
         */
        public static function deliver(array $payload): string
        {
            try {
                $body = wp_json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
                if (!is_string($body)) {
                    self::log('an event of user ' . (int) ($payload['id'] ?? 0) . ' cannot be written as JSON; dropped');
                    return self::REFUSED;
                }
                $reply = self::post_signed('/v1/events', $body, self::TIMEOUT_SECONDS);
                if (is_wp_error($reply)) {
                    self::log('syncd\'s intake at ' . self::endpoint() . ' did not answer (' . $reply->get_error_message()
                        . '); the event is kept and retried from WP-Cron. Check that syncd runs with [intake] on, '
                        . 'that SYNCD_INTAKE_URL is its address, and that this server trusts its TLS certificate');
                    return self::RETRY;
                }
                $status = (int) wp_remote_retrieve_response_code($reply);
                if ($status >= 200 && $status < 300) {
                    if (get_option(self::REFUSED_OPTION, false) !== false) {
                        delete_option(self::REFUSED_OPTION); // it works again: Site Health stops warning
                    }
                    return self::SENT;
                }
                if ($status === 408 || $status === 429 || $status >= 500) {
                    self::log('syncd\'s intake at ' . self::endpoint() . " answered HTTP $status; the event is kept and "
                        . 'retried from WP-Cron (see syncd\'s log)');
                    return self::RETRY;
                }
                self::refused($status);
                return self::REFUSED;
            } catch (\Throwable $e) {
                self::log('sending an event failed: ' . $e->getMessage() . '; it is kept and retried from WP-Cron');
                return self::RETRY;
            }
        }

        /** What an answer the intake would not take means, and what to do about it. */
        public static function refusal_advice(int $status): string
        {
            switch ($status) {
                case 401:
                    return 'SYNCD_INTAKE_SECRET in wp-config.php must be the same as syncd\'s [intake] secret, and this '
                        . 'server\'s clock must be right (within 5 minutes)';
                case 403:
                    return 'syncd refused the event for how it arrived; see syncd\'s log';
                case 404:
                case 405:
                    return 'SYNCD_INTAKE_URL must be the base address of syncd\'s intake (the companion adds /v1/events)';
                case 400:
                case 413:
                    return 'syncd did not understand the event: use the companion of the same version as syncd '
                        . '(syncd companion wordpress --out DIR)';
            }
            if ($status >= 300 && $status < 400) {
                return 'SYNCD_INTAKE_URL redirects (e.g. http:// to https://): give the address it redirects to';
            }
            return 'see syncd\'s log';
        }

        /** Remember the refusal (Site Health shows it); log it once an hour at most, not at every event. */
        private static function refused(int $status): void
        {
            $last = get_option(self::REFUSED_OPTION, false);
            $again = !is_array($last) || ($last['status'] ?? 0) !== $status
                || time() - (int) ($last['time'] ?? 0) >= self::REFUSAL_LOG_SECONDS;
            if (!$again) {
                return;
            }
            update_option(self::REFUSED_OPTION, ['status' => $status, 'time' => time()], true);
            self::log('syncd\'s intake at ' . self::endpoint() . " refused an event with HTTP $status, so events are "
                . 'dropped, not retried (syncd\'s polling still finds the changes): ' . self::refusal_advice($status));
        }

        /**
         * The kept events, by user id. Whatever the option holds that is not such an entry is ignored.
         *
         * @return array<int, array{event: string, email: string, since: int}>
         */
        public static function pending(): array
        {
            $raw = get_option(self::QUEUE_OPTION, []);
            $queue = [];
            if (!is_array($raw)) {
                return $queue;
            }
            foreach ($raw as $id => $item) {
                if (is_int($id) && $id > 0 && is_array($item) && in_array($item['event'] ?? null, ['changed', 'deleted'], true)) {
                    $queue[$id] = ['event' => (string) $item['event'], 'email' => (string) ($item['email'] ?? ''),
                                   'since' => (int) ($item['since'] ?? 0)];
                }
            }
            return $queue;
        }

        /** @param array<int, array{event: string, email: string, since: int}> $queue */
        private static function save(array $queue): void
        {
            if ($queue === []) {
                delete_option(self::QUEUE_OPTION);
                wp_clear_scheduled_hook(self::RETRY_HOOK);
                return;
            }
            // Not autoloaded: only the failure path and the cron run read it, never an ordinary page.
            update_option(self::QUEUE_OPTION, $queue, false);
            if (wp_next_scheduled(self::RETRY_HOOK) === false) {
                wp_schedule_event(time() + self::RETRY_SECONDS, self::RETRY_SCHEDULE, self::RETRY_HOOK);
            }
        }

        /** Keeps what was not sent, for WP-Cron. Never a password: a password event is kept as "changed" (the
         *  password is lost; the person's next change, or WordPress's reset, carries a new one).
         *  @param array<int, array{side: string, event: string, id: int, email: string, password?: string}> $payloads */
        private static function enqueue(array $payloads): void
        {
            $queue = self::pending();
            foreach ($payloads as $id => $payload) {
                $had = $queue[$id] ?? null;
                $event = $payload['event'] === 'deleted' ? 'deleted' : 'changed';
                $event = ($had !== null && $had['event'] === 'deleted') ? 'deleted' : $event;
                $queue[$id] = ['event' => $event, 'email' => $payload['email'], 'since' => $had['since'] ?? time()];
            }
            $over = count($queue) - self::QUEUE_LIMIT;
            if ($over > 0) {
                uasort($queue, static fn (array $a, array $b): int => $a['since'] <=> $b['since']);
                $queue = array_slice($queue, $over, null, true);
                self::log("$over waiting events were dropped (more than " . self::QUEUE_LIMIT . ' users wait); '
                    . 'syncd\'s next poll finds those changes');
            }
            self::save($queue);
        }

        /** WP-Cron: send what is kept. Entries another request changed meanwhile stay for the next run. */
        public static function retry(): void
        {
            try {
                $queue = self::pending();
                if ($queue === [] || !self::configured()) {
                    // Nothing to do; without the constants nothing can be sent: the next event schedules it again.
                    wp_clear_scheduled_hook(self::RETRY_HOOK);
                    return;
                }
                uasort($queue, static fn (array $a, array $b): int => $a['since'] <=> $b['since']);
                $payloads = [];
                foreach ($queue as $id => $item) {
                    $payloads[$id] = self::payload($id, $item['event'], $item['email']);
                }
                $left = self::send_all($payloads, self::CRON_BUDGET_SECONDS);
                wp_cache_delete(self::QUEUE_OPTION, 'options');
                $now = self::pending();
                foreach ($queue as $id => $item) {
                    if (!isset($left[$id]) && isset($now[$id]) && $now[$id] === $item) {
                        unset($now[$id]);
                    }
                }
                self::save($now);
            } catch (\Throwable $e) {
                self::log('retrying the kept events failed: ' . $e->getMessage());
            }
        }

        /** @param array<string, mixed> $schedules */
        public static function schedules($schedules): array
        {
            $schedules = is_array($schedules) ? $schedules : [];
            $schedules[self::RETRY_SCHEDULE] = ['interval' => self::RETRY_SECONDS,
                                                'display' => 'Every minute (syncd companion)'];
            return $schedules;
        }

        /** As a plugin, deactivated: nothing is retried any more, and nothing is kept for it. */
        public static function deactivate(): void
        {
            wp_clear_scheduled_hook(self::RETRY_HOOK);
            delete_option(self::QUEUE_OPTION);
            delete_option(self::REFUSED_OPTION);
        }

        /** @param array<string, mixed> $tests */
        public static function site_health_tests($tests): array
        {
            $tests = is_array($tests) ? $tests : [];
            if (self::url() !== '' || self::secret() !== '') {
                $tests['direct']['syncd_companion_events'] = ['label' => 'syncd events',
                                                              'test' => [self::class, 'site_health']];
            }
            return $tests;
        }

        /** Site Health (Tools → Site Health): whether the events reach syncd, and what to do if not.
         *  @return array<string, mixed> */
        public static function site_health(): array
        {
            $result = ['label' => 'Changes to users reach syncd at once', 'status' => 'good',
                       'badge' => ['label' => 'syncd', 'color' => 'blue'], 'actions' => '',
                       'test' => 'syncd_companion_events',
                       'description' => '<p>' . esc_html('Events are sent to ' . self::endpoint() . '.') . '</p>'];
            $refused = get_option(self::REFUSED_OPTION, false);
            $pending = self::pending();
            if (self::url() === '' || self::secret() === '') {
                $missing = self::url() === '' ? 'SYNCD_INTAKE_URL' : 'SYNCD_INTAKE_SECRET';
                $result['status'] = 'critical';
                $result['label'] = "syncd events are off: $missing is not set";
                $result['description'] = '<p>' . esc_html("Define $missing in wp-config.php (SYNCD_INTAKE_SECRET "
                    . 'is the same as syncd\'s [intake] secret), or remove both constants to leave events off; '
                    . 'syncd then finds changes by polling only.') . '</p>';
            } elseif (is_array($refused)) {
                $status = (int) ($refused['status'] ?? 0);
                $result['status'] = 'critical';
                $result['label'] = "syncd's intake refuses the events (HTTP $status)";
                $result['description'] = '<p>' . esc_html('Last at ' . gmdate('Y-m-d H:i', (int) ($refused['time'] ?? 0))
                    . ' UTC. ' . self::refusal_advice($status) . '.') . '</p>';
            } elseif ($pending !== []) {
                $since = min(array_column($pending, 'since'));
                $result['status'] = 'recommended';
                $result['label'] = count($pending) . ' user changes wait to be sent to syncd';
                $result['description'] = '<p>' . esc_html('syncd\'s intake at ' . self::endpoint() . ' has not taken '
                    . 'them since ' . gmdate('Y-m-d H:i', $since) . ' UTC; they are retried every minute from WP-Cron. '
                    . 'Check that syncd runs with [intake] on and that WP-Cron runs.') . '</p>';
            }
            return $result;
        }

        private static function log(string $message): void
        {
            if (defined('WP_DEBUG') && WP_DEBUG && defined('WP_DEBUG_LOG') && WP_DEBUG_LOG) {
                error_log('syncd companion: ' . $message);
            }
        }
    }

    /**
     * Where WordPress sets a password in plain text (DESIGN §11), checked against WordPress 6.1's own code:
     * each hook hands the password to Syncd_Companion_Events::password(), which holds it in memory until
     * the request ends. The hooks and what they pass:
     * - user_register($user_id, $userdata): $userdata is the raw array given to wp_insert_user(), its
     *   user_pass still plain (REST create, wp-admin's Add New User, a plugin's wp_insert_user());
     * - rest_insert_user($user, $request, $creating): after a REST create or update succeeded, with the
     *   request's `password` (wp_update_user() has hashed it by profile_update);
     * - user_profile_update_errors(&$errors, $update, &$user): the profile / user-edit form's pass1, as
     *   $user->user_pass; kept aside, and reported by profile_update only if the update then succeeds;
     * - password_reset / after_password_reset($user, $new_pass): the reset form (reset_password());
     * - wp_set_password($password, $user_id): WordPress 6.2 and later only (6.1 has no such action).
     * Skipped: a REST write syncd itself makes (its User-Agent; the password came from WHMCS, or is the
     * random one of an account syncd creates), wp-login.php's registration (register_post: the password is
     * a random one nobody knows; the person's own comes through the emailed reset link), and a user the
     * login fallback set (action syncd_companion_fallback_password, the WHMCS password coming back).
     */
    final class Syncd_Companion_Passwords
    {
        /** syncd's WordPress client (syncd.adapters.wordpress_http.USER_AGENT; a test keeps them equal). */
        public const SYNCD_USER_AGENT = 'syncd (WordPress users sync)';

        /** @var array<int, string> passwords the profile form gave, until its update succeeds */
        private static array $form = [];

        /** wp-login.php's registration: the account's password is a generated one. */
        private static bool $registering = false;

        public static function boot(): void
        {
            add_action('user_register', [self::class, 'registered'], 10, 2);
            add_action('rest_insert_user', [self::class, 'rest_write'], 10, 3);
            add_action('user_profile_update_errors', [self::class, 'form'], PHP_INT_MAX, 3);
            add_action('profile_update', [self::class, 'form_saved'], 10, 1);
            add_action('password_reset', [self::class, 'reset'], 10, 2);
            add_action('after_password_reset', [self::class, 'reset'], 10, 2);
            add_action('wp_set_password', [self::class, 'set'], 10, 2);
            add_action('register_post', [self::class, 'registering'], 10, 0);
            add_action('syncd_companion_fallback_password', [Syncd_Companion_Events::class, 'fallback_password'], 10, 1);
        }

        /** A REST request syncd itself makes: what it sets is never reported back to it. */
        private static function by_syncd(): bool
        {
            $agent = isset($_SERVER['HTTP_USER_AGENT']) && is_string($_SERVER['HTTP_USER_AGENT'])
                ? $_SERVER['HTTP_USER_AGENT'] : '';
            return $agent === self::SYNCD_USER_AGENT && defined('REST_REQUEST') && REST_REQUEST;
        }

        private static function take($user_id, $raw): void
        {
            if (!self::by_syncd()) {
                Syncd_Companion_Events::password($user_id, $raw);
            }
        }

        public static function registering(): void
        {
            self::$registering = true;
        }

        public static function registered($user_id = 0, $userdata = null): void
        {
            if (self::$registering || !is_array($userdata) || !isset($userdata['user_pass'])) {
                return; // the "changed" of user_register is enough
            }
            self::take($user_id, $userdata['user_pass']);
        }

        public static function rest_write($user = null, $request = null, $creating = false): void
        {
            if (!($user instanceof WP_User) || !($request instanceof WP_REST_Request)) {
                return;
            }
            $password = $request->get_param('password');
            if (is_string($password) && $password !== '') {
                // Unslashed already (the request's own value); wp_unslash() leaves it as it is: no backslash.
                self::take($user->ID, $password);
            }
        }

        public static function form($errors = null, $update = false, $user = null): void
        {
            if (!is_object($user) || !isset($user->ID, $user->user_pass) || !is_string($user->user_pass)
                || $user->user_pass === '' || ($errors instanceof WP_Error && $errors->has_errors())) {
                return;
            }
            self::$form[(int) $user->ID] = $user->user_pass;
        }

        public static function form_saved($user_id = 0): void
        {
            $id = (int) $user_id;
            if (isset(self::$form[$id])) {
                $password = self::$form[$id];
                unset(self::$form[$id]);
                self::take($id, $password);
            }
        }

        public static function reset($user = null, $new_pass = ''): void
        {
            if ($user instanceof WP_User) {
                self::take($user->ID, $new_pass);
            }
        }

        public static function set($password = '', $user_id = 0): void
        {
            self::take($user_id, $password);
        }
    }

    /**
     * The login fallback (DESIGN §11): log in to WordPress with the password WHMCS knows. Only with
     * define('SYNCD_LOGIN_FALLBACK', true), the events' two constants, and SYNCD_INTAKE_URL over https or
     * to a loopback address (the password must not cross a network in clear text).
     *
     * When WordPress's own check failed (a wrong password, an unknown username or email), it asks syncd:
     * POST {SYNCD_INTAKE_URL}/v1/verify {"login":..., "password":..., "address": the browser's IP}, signed
     * like an event. syncd asks WHMCS (ValidateLogin); on {"ok": true, "user_id": N} (never for an
     * administrator, an excluded role or syncd's own account, and after syncd created the account where
     * its direction allows) this sets that user's WordPress password to the one typed and lets the login
     * proceed; from then on it works without syncd. Anything else leaves WordPress's own error unchanged,
     * so the page reads exactly as it would have. Failed tries are limited here too, per browser address
     * (LIMIT in WINDOW_SECONDS, in a transient), to spare syncd and WHMCS. The password is never stored,
     * logged or shown. Never throws, never prints.
     */
    final class Syncd_Companion_Login
    {
        /** After core's username, email and application-password checks (priority 20). */
        public const PRIORITY = 30;
        public const TIMEOUT_SECONDS = 10;
        public const LIMIT = 5;
        public const WINDOW_SECONDS = 900;
        /** WordPress's errors for a wrong password and an unknown username or email (wp-includes/user.php). */
        private const FALLBACK_CODES = ['incorrect_password', 'invalid_username', 'invalid_email'];
        private const TRIES_TRANSIENT = 'syncd_login_tries_';

        public static function boot(): void
        {
            add_filter('authenticate', [self::class, 'authenticate'], self::PRIORITY, 3);
            add_filter('site_status_tests', [self::class, 'site_health_tests']);
        }

        public static function wanted(): bool
        {
            return defined('SYNCD_LOGIN_FALLBACK') && constant('SYNCD_LOGIN_FALLBACK') === true;
        }

        public static function enabled(): bool
        {
            return self::why_off() === '';
        }

        /** Why the fallback, wanted, cannot run ("" if it can): said in Site Health and debug.log. */
        public static function why_off(): string
        {
            if (!self::wanted()) {
                return 'SYNCD_LOGIN_FALLBACK is not true';
            }
            if (!Syncd_Companion_Events::configured()) {
                return 'SYNCD_INTAKE_URL and SYNCD_INTAKE_SECRET must both be set';
            }
            if (!self::private_url(Syncd_Companion_Events::url())) {
                return 'SYNCD_INTAKE_URL must be https:// (or http:// to this host\'s loopback): a password must not '
                    . 'cross a network in clear text';
            }
            return '';
        }

        /** @param array<string, mixed> $tests */
        public static function site_health_tests($tests): array
        {
            $tests = is_array($tests) ? $tests : [];
            if (self::wanted()) {
                $tests['direct']['syncd_login_fallback'] = ['label' => 'syncd login fallback',
                                                            'test' => [self::class, 'site_health']];
            }
            return $tests;
        }

        /** Site Health: whether a WHMCS password can log in here, and what to do if not.
         *  @return array<string, mixed> */
        public static function site_health(): array
        {
            $off = self::why_off();
            return ['label' => $off === '' ? 'People can log in with their WHMCS password'
                                           : 'The syncd login fallback is off',
                    'status' => $off === '' ? 'good' : 'critical',
                    'badge' => ['label' => 'syncd', 'color' => 'blue'], 'actions' => '',
                    'test' => 'syncd_login_fallback',
                    'description' => '<p>' . esc_html($off === ''
                        ? 'A failed login is checked against WHMCS through syncd (which needs [passwords] carry = true).'
                        : 'SYNCD_LOGIN_FALLBACK is on in wp-config.php, but ' . $off . '.') . '</p>'];
        }

        /** https, or plain http to this host only. */
        public static function private_url(string $url): bool
        {
            $parts = wp_parse_url($url);
            if (!is_array($parts)) {
                return false;
            }
            $scheme = strtolower((string) ($parts['scheme'] ?? ''));
            if ($scheme === 'https') {
                return true;
            }
            $host = strtolower(trim((string) ($parts['host'] ?? ''), '[]'));
            return $scheme === 'http'
                && ($host === 'localhost' || $host === '::1' || preg_match('/^127(\.\d{1,3}){3}$/', $host) === 1);
        }

        /**
         * The `authenticate` filter: the WP_User to log in, or what it was given, unchanged.
         *
         * @param null|WP_User|WP_Error $user
         * @param mixed $username
         * @param mixed $password
         * @return null|WP_User|WP_Error
         */
        public static function authenticate($user, $username = '', $password = '')
        {
            try {
                if (!($user instanceof WP_Error) || !in_array($user->get_error_code(), self::FALLBACK_CODES, true)
                    || !is_string($username) || !is_string($password) || trim($username) === '' || $password === ''
                    || !self::wanted() || self::api_request()) {
                    return $user;
                }
                $off = self::why_off();
                if ($off !== '') {
                    self::log("the login fallback is off: $off");
                    return $user;
                }
                $address = self::address();
                if (self::limited($address)) {
                    return $user;
                }
                // wp_signon() passes $_POST['pwd'] with WordPress's added slashes, and WordPress hashes
                // passwords in that same form everywhere (its REST API and forms slash before saving):
                // WHMCS gets the password as typed, WordPress keeps the form it will compare next time.
                $id = self::ask($username, wp_unslash($password), $address);
                if ($id === 0) {
                    self::failed($address);
                    return $user;
                }
                $found = get_userdata($id);
                if (!($found instanceof WP_User) || user_can($found, 'manage_options') || is_super_admin($id)) {
                    self::log("syncd allowed user $id, but this site refuses it (an administrator, or gone); "
                        . 'WordPress\'s own answer is kept');
                    return $user;
                }
                // Told first, so that the password events do not report this one back to syncd as a change.
                do_action('syncd_companion_fallback_password', $id);
                wp_set_password($password, $id);
                $fresh = get_userdata($id); // wp_set_password() cleared the cached user
                return $fresh instanceof WP_User ? $fresh : $user;
            } catch (\Throwable $e) {
                self::log('the login fallback failed: ' . get_class($e) . '; WordPress\'s own answer is kept');
                return $user;
            }
        }

        /** XML-RPC and REST clients authenticate too; the fallback is for people at a login form only. */
        private static function api_request(): bool
        {
            return (defined('XMLRPC_REQUEST') && XMLRPC_REQUEST) || (defined('REST_REQUEST') && REST_REQUEST);
        }

        /** The browser's address as this server sees it ("" if it is not an IP address). */
        private static function address(): string
        {
            $remote = $_SERVER['REMOTE_ADDR'] ?? '';
            return is_string($remote) && filter_var($remote, FILTER_VALIDATE_IP) !== false ? $remote : '';
        }

        private static function limited(string $address): bool
        {
            if ($address === '') {
                return false; // syncd still limits per login
            }
            $tries = get_transient(self::TRIES_TRANSIENT . md5($address));
            return is_array($tries) && (int) ($tries['count'] ?? 0) >= self::LIMIT
                && time() - (int) ($tries['since'] ?? 0) < self::WINDOW_SECONDS;
        }

        private static function failed(string $address): void
        {
            if ($address === '') {
                return;
            }
            $key = self::TRIES_TRANSIENT . md5($address);
            $tries = get_transient($key);
            if (!is_array($tries) || time() - (int) ($tries['since'] ?? 0) >= self::WINDOW_SECONDS) {
                $tries = ['count' => 0, 'since' => time()];
            }
            $tries['count'] = (int) ($tries['count'] ?? 0) + 1;
            $left = self::WINDOW_SECONDS - (time() - (int) $tries['since']);
            set_transient($key, $tries, max(1, $left));
        }

        /** The WordPress user syncd says may log in, or 0 (refused, or no usable answer). */
        private static function ask(string $login, string $password, string $address): int
        {
            // The nonce makes two identical tries within one second two bodies: the second is no replay.
            $payload = ['login' => $login, 'password' => $password, 'nonce' => bin2hex(random_bytes(8))];
            if ($address !== '') {
                $payload['address'] = $address;
            }
            $body = wp_json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
            unset($payload);
            if (!is_string($body)) {
                return 0;
            }
            $endpoint = rtrim(Syncd_Companion_Events::url(), '/') . '/v1/verify';
            $reply = Syncd_Companion_Events::post_signed('/v1/verify', $body, self::TIMEOUT_SECONDS);
            unset($body);
            if (is_wp_error($reply)) {
                self::log("syncd's intake at $endpoint did not answer a login check (" . $reply->get_error_message()
                    . '); the login was refused as WordPress refused it');
                return 0;
            }
            $status = (int) wp_remote_retrieve_response_code($reply);
            $answer = json_decode((string) wp_remote_retrieve_body($reply), true);
            if ($status !== 200 || !is_array($answer)) {
                self::log("syncd's intake at $endpoint answered a login check with HTTP $status: "
                    . Syncd_Companion_Events::refusal_advice($status));
                return 0;
            }
            $id = $answer['user_id'] ?? 0;
            return ($answer['ok'] ?? false) === true && is_int($id) && $id > 0 ? $id : 0;
        }

        private static function log(string $message): void
        {
            if (defined('WP_DEBUG') && WP_DEBUG && defined('WP_DEBUG_LOG') && WP_DEBUG_LOG) {
                error_log('syncd companion: ' . $message);
            }
        }
    }

    Syncd_Companion::boot();
    Syncd_Companion_Events::boot();
    Syncd_Companion_Login::boot();
}
