//! User-Agent classification: browser, OS, device class, and bot detection.
//!
//! [`classify`] turns a User-Agent header into a [`UserAgent`] (names follow
//! what Plausible shows, i.e. device-detector's names through Plausible's
//! `browser_name/1`: `Chrome`, `Safari`, `Firefox`, `Microsoft Edge`,
//! `Samsung Browser`, `Opera`, `Android Browser`; `Windows`, `Mac`, `iOS`,
//! `iPadOS`, `Android`, `Fire OS`, `GNU/Linux`, `Chrome OS`; agreement is
//! measured in `docs/ingestion.md`) or rejects it with a [`BotReason`] that the caller
//! can count. [`UaCache`] is a bounded cache in front of it: real traffic
//! repeats a few thousand User-Agent strings, so most events skip parsing.
//!
//! # Why not a User-Agent parsing crate?
//! We measured the two maintained-looking candidates (`docs/benchmarks.md`,
//! section `event-model-classify`): `woothee` (last release 2021) compiles ~45
//! regular expressions and adds about 1.1 MB to a `wasm-release` Worker;
//! `uaparser` with the uap-core `regexes.yaml` adds about 1.4 MB and compiles
//! ~1,000 regular expressions on first use, which a Worker pays on every cold
//! start. Analytics needs only the families Plausible shows, so this module
//! reads the product tokens (`Chrome/120`, `Edg/120`, `CPU iPhone OS 17_1`)
//! directly: about 35 KB of wasm, no regex engine, about a microsecond per
//! uncached User-Agent, and no start-up cost.
//!
//! What a User-Agent cannot say: iPadOS 13+ Safari sends a Mac User-Agent by
//! default (it is classified as `Mac`/desktop; the screen size can refine
//! that), and the reduced User-Agents freeze versions: Windows 11 reports `10`,
//! every macOS since 11 reports `10.15`, Chrome on Android often reports `10`.

use crate::Device;

mod bot;

/// What a human visitor's browser says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserAgent {
    /// Browser family (`Chrome`, `Safari`, ...); empty when unknown.
    pub browser: String,
    /// Browser major version (`120`); empty when unknown.
    pub browser_version: String,
    /// Operating system (`Windows`, `Mac`, `iOS`, ...); empty when unknown.
    pub os: String,
    /// Operating system version, major or major.minor (`10`, `17.1`, `10.15`);
    /// empty when unknown.
    pub os_version: String,
    /// Device class; [`Device::Unknown`] when the User-Agent does not say.
    pub device: Device,
}

/// Why a request was classified as not coming from a human's browser.
///
/// The variants are what users see in "filtered traffic" counts; use
/// [`BotReason::as_str`] for a stable label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
#[non_exhaustive]
pub enum BotReason {
    /// The User-Agent header is missing or blank.
    #[error("user_agent is empty")]
    Empty,
    /// Shorter than [`MIN_LEN`] bytes (and no bot signature): no browser sends that.
    #[error("user_agent is shorter than {MIN_LEN} bytes")]
    TooShort,
    /// Longer than [`MAX_LEN`] bytes.
    #[error("user_agent is longer than {MAX_LEN} bytes")]
    TooLong,
    /// No `Mozilla/`-style product token, or no recognizable browser and
    /// operating system.
    #[error("user_agent does not look like a browser")]
    Implausible,
    /// A search engine, SEO, social preview, monitoring or AI crawler.
    #[error("user_agent is a known crawler")]
    Crawler,
    /// A headless or automated browser (HeadlessChrome, PhantomJS, Puppeteer...).
    #[error("user_agent is a headless or automated browser")]
    Headless,
    /// An HTTP client library or command-line tool (curl, python-requests...).
    #[error("user_agent is an HTTP library or tool")]
    HttpLibrary,
}

impl BotReason {
    /// Every reason, in declaration order (for zero-filled counters).
    pub const ALL: [Self; 7] = [
        Self::Empty,
        Self::TooShort,
        Self::TooLong,
        Self::Implausible,
        Self::Crawler,
        Self::Headless,
        Self::HttpLibrary,
    ];

    /// A stable `snake_case` label for counters and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Implausible => "implausible",
            Self::Crawler => "crawler",
            Self::Headless => "headless",
            Self::HttpLibrary => "http_library",
        }
    }
}

/// User-Agents shorter than this many bytes (after trimming) are [`BotReason::TooShort`].
pub const MIN_LEN: usize = 16;
/// User-Agents longer than this many bytes (after trimming) are [`BotReason::TooLong`].
pub const MAX_LEN: usize = 1024;

/// Classifies a User-Agent header value.
///
/// # Errors
/// A [`BotReason`] when the User-Agent is empty, of implausible length or
/// shape, or belongs to a crawler, headless browser or HTTP library.
pub fn classify(user_agent: &str) -> Result<UserAgent, BotReason> {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return Err(BotReason::Empty);
    }
    if ua.len() > MAX_LEN {
        return Err(BotReason::TooLong);
    }
    let lower = ua.to_ascii_lowercase();
    // Before the length floor: `curl/8.4.0` is more useful as "HTTP library".
    if let Some(reason) = bot::detect(&lower) {
        return Err(reason);
    }
    if ua.len() < MIN_LEN {
        return Err(BotReason::TooShort);
    }
    // No `Mozilla/...(...)` shape required: real phones send
    // `Mozilla/5.0 Linux; Android ...` (no parentheses), `Dalvik/...`,
    // `UCWEB/2.0 (...)`; what must be recognizable is a browser or an OS.
    let (os, os_version) = operating_system(ua);
    let (browser, browser_version) = browser(ua);
    // Unrecognized but browser-shaped (`Mozilla/5.0 (PlayStation 5...)`,
    // BeOS, Symbian) or a feature phone: a visitor whose names we lack.
    let feature_phone = FEATURE_PHONE_MARKERS.iter().any(|m| lower.contains(m));
    if os.is_empty() && browser.is_empty() && lower.contains("compatible") {
        // `Mozilla/5.0 (compatible; SomeTool/1.0)`: the shape of a crawler.
        return Err(BotReason::Crawler);
    }
    if os.is_empty()
        && browser.is_empty()
        && !feature_phone
        && !(lower.starts_with("mozilla/") && ua.contains('('))
    {
        return Err(BotReason::Implausible);
    }
    let device = match device(ua, os) {
        Device::Unknown if feature_phone => Device::Mobile,
        device => device,
    };
    Ok(UserAgent {
        browser: browser.to_owned(),
        browser_version,
        os: os.to_owned(),
        os_version,
        device,
    })
}

/// Lower-case markers of feature phones' browsers (no `Mozilla/` token).
const FEATURE_PHONE_MARKERS: &[&str] = &[
    "midp",
    "up.browser",
    "ucweb",
    "netfront",
    "obigo",
    "nokia",
    "samsung-",
    "sonyericsson",
    "opera mini",
    "brew",
    "symbian",
];

/// Browser product tokens (`Name/version`), most specific first:
/// Chromium-based browsers also say `Chrome/` and `Safari/`, so they must win
/// over Chrome, and Chrome over Safari.
const BROWSERS: &[(&str, &str)] = &[
    ("Edg", "Microsoft Edge"),
    ("EdgA", "Microsoft Edge"),
    ("EdgiOS", "Microsoft Edge"),
    ("Edge", "Microsoft Edge"),
    ("IEMobile", "IE Mobile"),
    ("OPR", "Opera"),
    ("OPT", "Opera"),
    ("OPiOS", "Opera"),
    ("OPRGX", "Opera GX"),
    ("SamsungBrowser", "Samsung Browser"),
    ("YaBrowser", "Yandex Browser"),
    ("YaSearchBrowser", "Yandex Browser"),
    ("MQQBrowser", "QQ Browser"),
    ("QQBrowser", "QQ Browser"),
    ("Quark", "Quark"),
    ("VivoBrowser", "vivo Browser"),
    ("MZBrowser", "Meizu Browser"),
    ("HeyTapBrowser", "HeyTapBrowser"),
    ("PHX", "Phoenix Browser"),
    ("T-Browser", "T-Browser"),
    ("AlohaBrowser", "Aloha Browser"),
    ("Puffin", "Puffin Web Browser"),
    ("SogouMobileBrowser", "Sogou Mobile Browser"),
    ("baidubrowser", "Baidu Browser"),
    ("bdbrowser", "Baidu Browser"),
    ("Vivaldi", "Vivaldi"),
    ("UCBrowser", "UC Browser"),
    ("DuckDuckGo", "DuckDuckGo Privacy Browser"),
    ("Ddg", "DuckDuckGo Privacy Browser"),
    ("Brave", "Brave"),
    ("MiuiBrowser", "Mi Browser"),
    ("HuaweiBrowser", "Huawei Browser"),
    ("Silk", "Mobile Silk"),
    ("Whale", "Whale"),
    ("FBAV", "Facebook"),
    ("GSA", "Google App"),
    ("FxiOS", "Firefox"),
    ("Firefox", "Firefox"),
    ("CriOS", "Chrome"),
    ("Chromium", "Chromium"),
    ("Chrome", "Chrome"),
];

/// The product tokens of a User-Agent: for every `/`, the name before it (back
/// to a space, `(`, `)`, `;`, `,` or `[`) and the text after it.
fn products(ua: &str) -> impl Iterator<Item = (&str, &str)> {
    ua.match_indices('/').filter_map(|(i, _)| {
        let before = ua.get(..i)?;
        let start = before
            .rfind([' ', '(', ')', ';', ',', '[', '/'])
            .map_or(0, |d| d + 1);
        Some((before.get(start..)?, ua.get(i + 1..)?))
    })
}

/// The major version at the start of `text` (`120.0.1` -> `120`), if any.
fn major(text: &str) -> Option<String> {
    let (digits, _) = leading_digits(text);
    (!digits.is_empty() && digits.len() <= MAX_VERSION_DIGITS).then(|| digits.to_owned())
}

fn browser(ua: &str) -> (&'static str, String) {
    let mut best: Option<(usize, &'static str, &str)> = None;
    let (mut safari, mut trident) = (false, false);
    let mut version = None;
    for (name, rest) in products(ua) {
        match name {
            "Safari" => safari = true,
            "Trident" => trident = true,
            "Version" => version = Some(rest),
            _ => {}
        }
        if let Some(rank) = BROWSERS.iter().position(|(token, _)| *token == name)
            && best.is_none_or(|(b, _, _)| rank < b)
            && let Some((_, display)) = BROWSERS.get(rank)
        {
            best = Some((rank, display, rest));
        }
    }
    let version_of = |text: Option<&str>| text.and_then(major).unwrap_or_default();
    if let Some((_, name, rest)) = best {
        // Android WebView marks itself `; wv)`: an app, not Chrome.
        let name = match name {
            "Chrome" if ua.contains("; wv)") => "Mobile App",
            "Huawei Browser" if ua.contains("Mobile") => "Huawei Browser Mobile",
            _ => name,
        };
        return (name, version_of(Some(rest)));
    }
    if ua.starts_with("Dalvik/") {
        // Android's system HTTP stack, as apps' embedded pages send it.
        return ("Android Browser", String::new());
    }
    if let Some(rest) = after(ua, "MSIE ") {
        return ("Internet Explorer", version_of(Some(rest)));
    }
    if trident {
        return ("Internet Explorer", version_of(after(ua, "rv:")));
    }
    if ua.starts_with("Opera/") {
        return ("Opera", version_of(version));
    }
    if let Some(rest) = after(ua, " Instagram ") {
        return ("Instagram", version_of(Some(rest)));
    }
    if safari {
        // Android's stock browser: WebKit with `Version/` and no Chrome token.
        if ua.contains("Android") || ua.contains("Adr ") {
            return ("Android Browser", version_of(version));
        }
        return ("Safari", version_of(version));
    }
    if ua.contains("AppleWebKit/") && (ua.contains("iPhone") || ua.contains("iPad")) {
        // An iOS app's embedded WebView (no `Safari/` token).
        return ("Mobile App", String::new());
    }
    ("", String::new())
}

fn operating_system(ua: &str) -> (&'static str, String) {
    // The platform is in the first comment: `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ...`.
    let platform = ua.split_once('(').map_or(ua, |(_, rest)| {
        rest.split_once(')').map_or(rest, |(comment, _)| comment)
    });
    let p = platform;
    if let Some(version) = after(p, "Windows Phone ") {
        return ("Windows Phone", dotted(version));
    }
    if let Some(nt) = after(p, "Windows NT ") {
        let version = match dotted(nt).as_str() {
            "10.0" => "10",
            "6.3" => "8.1",
            "6.2" => "8",
            "6.1" => "7",
            "6.0" => "Vista",
            "5.1" | "5.2" => "XP",
            _ => "",
        };
        return ("Windows", version.to_owned());
    }
    if let Some(version) = after(p, "Windows CE") {
        return ("Windows CE", dotted(version.trim_start()));
    }
    // `iPad` as a word: Android tablets named `MiPad`, `HiPad`... are not iPads.
    if has_word(p, "iPad") {
        return ("iPadOS", after(p, " OS ").map(dotted).unwrap_or_default());
    }
    if has_word(p, "iPhone") || has_word(p, "iPod") || has_word(p, "iPod touch") {
        return ("iOS", after(p, " OS ").map(dotted).unwrap_or_default());
    }
    if ua.contains("HarmonyOS") {
        return ("HarmonyOS", String::new());
    }
    if ua.contains("Web0S") || ua.contains("webOS") {
        return ("webOS", String::new());
    }
    if ua.contains("VIDAA") {
        return ("VIDAA", String::new());
    }
    if ua.contains("TiVo") {
        return ("TiVo OS", String::new());
    }
    if ua.contains("KAIOS") || ua.contains("KaiOS") {
        return ("KaiOS", String::new());
    }
    if let Some(version) = after(p, "Android ").or_else(|| after(p, "Adr ")) {
        return (android_flavour(ua, p), dotted(version));
    }
    if p.contains("Android") {
        return (android_flavour(ua, p), String::new());
    }
    if let Some(rest) = after(p, "CrOS ") {
        // `CrOS x86_64 14541.0.0`: the platform version follows the architecture.
        let version = rest
            .split_once(' ')
            .map(|(_, v)| dotted(v))
            .unwrap_or_default();
        return ("Chrome OS", version);
    }
    if let Some(version) = after(p, "Mac OS X ") {
        return ("Mac", dotted(version));
    }
    if p.contains("Macintosh") {
        return ("Mac", String::new());
    }
    if p.contains("Windows") {
        return ("Windows", String::new());
    }
    if p.contains("Tizen") {
        return ("Tizen", String::new());
    }
    if p.contains("Linux") || p.contains("X11") {
        return ("GNU/Linux", String::new());
    }
    if p.contains("FreeBSD") || p.contains("OpenBSD") {
        return ("BSD", String::new());
    }
    if ua.contains("BlackBerry") || ua.contains("BB10") {
        return ("BlackBerry OS", String::new());
    }
    if ua.contains("Symbian") || ua.contains("Series60") || ua.contains("Series 60") {
        return ("Symbian", String::new());
    }
    if ua.contains("MIDP") || ua.contains("J2ME") {
        return ("Java ME", String::new());
    }
    ("", String::new())
}

/// Android or one of its flavours device-detector names apart.
fn android_flavour(ua: &str, platform: &str) -> &'static str {
    if ua.contains("Silk/") || platform.contains("; KF") || platform.contains("; AFT") {
        "Fire OS"
    } else if ua.contains("Android TV") || ua.contains("AndroidTV") {
        "Android TV"
    } else {
        "Android"
    }
}

/// Whether `word` occurs in `text` not preceded by a letter (`iPad` in
/// `(iPad; CPU OS 17_1 ...)`, not in `MiPad`).
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        text.get(..i)
            .and_then(|b| b.chars().next_back())
            .is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

/// Model-name fragments of Android tablets whose User-Agent still says
/// `Mobile` (device-detector knows them by model; these cover most).
const TABLET_MODELS: &[&str] = &[
    "Tab",
    "TAB",
    "Pad",
    "PAD",
    "Tablet",
    "TB-",
    "SM-T",
    "SM-P",
    "SM-X",
    "MID7",
    "MID8",
    "MID9",
    "MID1",
    "MID-",
    "Plane",
    "iPlay",
    "MediaPad",
    "Nexus 7",
    "Nexus 9",
    "Nexus 10",
    "/apad",
    "Optima",
    "Lenovo TB",
];

fn device(ua: &str, os: &str) -> Device {
    match os {
        "iPadOS" => Device::Tablet,
        "iOS" | "Windows Phone" | "KaiOS" => Device::Mobile,
        "Android" | "Fire OS" | "HarmonyOS" => {
            let model = ua.split_once(')').map_or(ua, |(platform, _)| platform);
            let tablet_model = TABLET_MODELS.iter().any(|m| model.contains(m))
                && !model.contains("PadFone")
                && !model.contains("MIDP");
            if ua.contains("Tablet") || tablet_model {
                Device::Tablet
            } else if ua.contains("Mobile") || ua.contains("; wv)") || ua.starts_with("Dalvik/") {
                Device::Mobile
            } else if os == "Fire OS" {
                Device::Tablet
            } else {
                // Chrome on Android tablets omits `Mobile`; Firefox says `Tablet`.
                Device::Tablet
            }
        }
        _ if ua.contains("Tablet") || ua.contains("Kindle") || ua.contains("Silk/") => {
            Device::Tablet
        }
        _ if ua.contains("Mobi") => Device::Mobile,
        "Windows" | "Mac" | "GNU/Linux" | "Chrome OS" | "BSD" => Device::Desktop,
        _ => Device::Unknown,
    }
}

/// The text right after the first occurrence of `token`.
fn after<'a>(ua: &'a str, token: &str) -> Option<&'a str> {
    ua.find(token).and_then(|i| ua.get(i + token.len()..))
}

/// `major` or `major.minor` from a version separated by `.` or `_`
/// (`17_1_2` -> `17.1`, `10.0` -> `10.0`, `14;` -> `14`); empty when no digit
/// follows or a part is implausibly long.
fn dotted(text: &str) -> String {
    let (major, rest) = leading_digits(text);
    if major.is_empty() || major.len() > MAX_VERSION_DIGITS {
        return String::new();
    }
    let minor = rest
        .strip_prefix(['.', '_'])
        .map_or("", |r| leading_digits(r).0);
    if minor.is_empty() || minor.len() > MAX_VERSION_DIGITS {
        major.to_owned()
    } else {
        format!("{major}.{minor}")
    }
}

/// Longest run of digits accepted as one version component.
const MAX_VERSION_DIGITS: usize = 8;

/// Splits `text` after its leading ASCII digits.
fn leading_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at_checked(end).unwrap_or((text, ""))
}

/// A bounded cache in front of [`classify`].
///
/// It takes `&mut self`: the ingesting code owns it (a Worker isolate is
/// single-threaded; a multi-threaded host keeps one per thread).
/// [`SharedUaCache`] wraps it for call sites that only have `&self`. It holds at
/// most `capacity` User-Agents in two generations: when the young generation
/// is half full, the old one is dropped and the young one becomes old; a hit
/// in the old generation moves the entry back to the young one. So the
/// User-Agents seen in the last `capacity / 2` distinct lookups always stay,
/// memory is bounded (`capacity` × at most [`MAX_LEN`] bytes of key), and every
/// operation is O(1).
#[derive(Debug)]
pub struct UaCache {
    half: usize,
    young: hashbrown::HashMap<Box<str>, Result<UserAgent, BotReason>>,
    old: hashbrown::HashMap<Box<str>, Result<UserAgent, BotReason>>,
    hits: u64,
    misses: u64,
}

impl UaCache {
    /// A cache that holds at most `capacity` User-Agent strings (at least 2).
    pub fn new(capacity: usize) -> Self {
        let half = (capacity / 2).max(1);
        Self {
            half,
            young: hashbrown::HashMap::with_capacity(half),
            old: hashbrown::HashMap::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// The same answer as [`classify`], from the cache when possible.
    ///
    /// # Errors
    /// As [`classify`].
    pub fn classify(&mut self, user_agent: &str) -> Result<UserAgent, BotReason> {
        if user_agent.len() > MAX_LEN {
            // Never cached, so that a key holds at most `MAX_LEN` bytes.
            return classify(user_agent);
        }
        if let Some(hit) = self.young.get(user_agent) {
            self.hits += 1;
            return hit.clone();
        }
        if let Some((key, value)) = self.old.remove_entry(user_agent) {
            self.hits += 1;
            self.insert(key, value.clone());
            return value;
        }
        self.misses += 1;
        let value = classify(user_agent);
        self.insert(user_agent.into(), value.clone());
        value
    }

    fn insert(&mut self, key: Box<str>, value: Result<UserAgent, BotReason>) {
        if self.young.len() >= self.half {
            self.old = core::mem::take(&mut self.young);
            self.young.reserve(self.half);
        }
        self.young.insert(key, value);
    }

    /// Number of User-Agents currently cached (at most the capacity).
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Whether the cache holds no User-Agent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups answered from the cache, and lookups that parsed.
    pub fn hits_misses(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

/// A [`UaCache`] usable from a shared reference (`&self`), for call sites that
/// cannot hold `&mut` (a handler that only borrows its state). Single-threaded
/// by construction (`!Sync`, like a Worker isolate); if it is ever borrowed
/// re-entrantly, the lookup is answered uncached instead of panicking.
#[derive(Debug)]
pub struct SharedUaCache(core::cell::RefCell<UaCache>);

impl SharedUaCache {
    /// A cache that holds at most `capacity` User-Agent strings (at least 2).
    pub fn new(capacity: usize) -> Self {
        Self(core::cell::RefCell::new(UaCache::new(capacity)))
    }

    /// The same answer as [`classify`], from the cache when possible.
    ///
    /// # Errors
    /// As [`classify`].
    pub fn classify(&self, user_agent: &str) -> Result<UserAgent, BotReason> {
        match self.0.try_borrow_mut() {
            Ok(mut cache) => cache.classify(user_agent),
            Err(_) => classify(user_agent),
        }
    }

    /// Lookups answered from the cache, and lookups that parsed.
    pub fn hits_misses(&self) -> (u64, u64) {
        self.0
            .try_borrow()
            .map_or((0, 0), |cache| cache.hits_misses())
    }
}
