//! The dimensions a rollup cell is keyed by, besides site and hour.

macro_rules! dimensions {
    ($($(#[$doc:meta])* $name:ident = $tag:literal, $label:literal;)*) => {
        /// What a rollup cell is keyed by, besides site and hour.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Dimension {
            $($(#[$doc])* $name = $tag,)*
        }

        impl Dimension {
            /// Every dimension, in tag order.
            pub const ALL: [Dimension; DIMENSIONS] = [$(Dimension::$name,)*];

            /// A stable lower-case name (`entry_page`, `utm_source`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Dimension::$name => $label,)*
                }
            }
        }
    };
}

/// How many dimensions there are.
pub const DIMENSIONS: usize = 22;

dimensions! {
    /// The site total; its one value is the empty string.
    Total = 0, "total";
    /// Page path of page views.
    Page = 1, "page";
    /// Page of a visit's first page view.
    EntryPage = 2, "entry_page";
    /// Page of a visit's last page view.
    ExitPage = 3, "exit_page";
    /// Host name of the page.
    Hostname = 4, "hostname";
    /// Named source or referrer host (`""` is direct traffic).
    Source = 5, "source";
    /// Referrer URL.
    Referrer = 6, "referrer";
    /// Acquisition channel.
    Channel = 7, "channel";
    /// `utm_source`.
    UtmSource = 8, "utm_source";
    /// `utm_medium`.
    UtmMedium = 9, "utm_medium";
    /// `utm_campaign`.
    UtmCampaign = 10, "utm_campaign";
    /// `utm_content`.
    UtmContent = 11, "utm_content";
    /// `utm_term`.
    UtmTerm = 12, "utm_term";
    /// ISO country code.
    Country = 13, "country";
    /// Browser name.
    Browser = 14, "browser";
    /// Browser name and version, `"Chrome 120"`.
    BrowserVersion = 15, "browser_version";
    /// Operating system.
    Os = 16, "os";
    /// Operating system and version, `"Android 14"`.
    OsVersion = 17, "os_version";
    /// Device class.
    Device = 18, "device";
    /// Screen class.
    Screen = 19, "screen";
    /// Custom event (goal) name.
    Goal = 20, "goal";
    /// Custom property, `key=value`.
    Prop = 21, "prop";
}

impl Dimension {
    /// The dimension with this tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.get(usize::from(tag)).copied()
    }

    /// The tag of this dimension in the encoding.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// Whether an empty value is *absent* rather than a value, and gets no
    /// cell: the UTM fields, the referrer URL, the host name and the browser
    /// and OS versions (absent when the version is unknown). (An empty
    /// [`Dimension::Source`] is direct traffic and is kept.) The "(none)"
    /// row of such a breakdown is the total minus the listed values, for
    /// everything but uniques.
    pub fn omits_empty(self) -> bool {
        matches!(
            self,
            Self::Hostname
                | Self::Referrer
                | Self::BrowserVersion
                | Self::OsVersion
                | Self::UtmSource
                | Self::UtmMedium
                | Self::UtmCampaign
                | Self::UtmContent
                | Self::UtmTerm
        )
    }

    /// Whether the dimension is a property of the visitor or visit (counted
    /// for every event and attributed the visit's counts): hostname through
    /// screen.
    pub fn is_visit_level(self) -> bool {
        (Self::Hostname.tag()..=Self::Screen.tag()).contains(&self.tag())
    }
}
