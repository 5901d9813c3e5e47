<?php
/**
 * Plugin Name:       syncd companion
 * Description:       Lets syncd (the WHMCS ⇄ WordPress user synchroniser) read and write the user meta it maps, such as WooCommerce's billing address and phone, through the REST API — only for users who can edit users.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * License:           MIT
 *
 * Install: copy this one file into wp-content/plugins/ and activate it, or drop it into
 * wp-content/mu-plugins/ (it then needs no activation). Written by `syncd companion wordpress --out DIR`.
 *
 * Configure in wp-config.php (optional):
 *   define('SYNCD_META_KEYS', 'billing_phone,billing_address_1');   // default: WooCommerce's billing keys
 *
 * What it does: registers each meta key of SYNCD_META_KEYS for users, as a single string shown in the
 * REST API's `meta` (/wp/v2/users) in the `edit` context only, readable and writable only by a user who
 * can edit users; values are sanitised the way WooCommerce stores them. A key something else already
 * registered is left as it is. GET /wp-json/syncd/v1/companion tells syncd (as a user who can list
 * users) this file's version and the keys it registered. It decides nothing and sends nothing.
 *
 * It must never break a page: nothing here runs outside WordPress, and a second copy (installed both
 * as a plugin and as a mu-plugin) does nothing. Everything is declared inside the `if` below, so PHP
 * binds it only when the block runs: a top-level declaration would be bound when the file is compiled,
 * and a second copy would stop the page with "Cannot redeclare".
 */

if (!defined('ABSPATH')) {
    return; // not inside WordPress
}

if (!defined('SYNCD_COMPANION_VERSION')) {
    define('SYNCD_COMPANION_VERSION', '0.1.0');

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

    Syncd_Companion::boot();
}
