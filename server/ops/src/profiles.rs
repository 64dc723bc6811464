//! `profiles`: the AWS profiles a user can deploy to, plus the built-in `local`.

use lambda_deploy::profiles::{ProfileInfo, ProfileListing, LOCAL_PROFILE};

/// The user's profiles followed by the built-in `local` one (unless a file defines `local`).
pub fn with_local(listing: &ProfileListing) -> Vec<ProfileInfo> {
    let mut all = listing.profiles.clone();
    if listing.get(LOCAL_PROFILE).is_none() {
        all.push(ProfileInfo::local());
    }
    all
}
