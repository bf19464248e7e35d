//! Django REST Framework's page-number pagination: `{count, next, previous, results}`.

use serde::Serialize;
use serde_json::{Value, json};

use super::error::ApiError;

/// The `page` and `page_size` of a list request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageParams {
    pub(crate) page: usize,
    pub(crate) page_size: usize,
}

impl PageParams {
    pub(crate) const DEFAULT_PAGE_SIZE: usize = 10;
    pub(crate) const MAX_PAGE_SIZE: usize = 100;

    pub(crate) fn invalid_page() -> ApiError {
        ApiError::Detail {
            status: http::StatusCode::NOT_FOUND,
            detail: "Invalid page.".to_owned(),
        }
    }
}

/// One page of `items` in DRF's envelope. `url` is the absolute URL of the request
/// (query included); `next` and `previous` are built from it as DRF does. A page past the
/// last is a 404 `Invalid page.` (page 1 of an empty list is valid).
pub(crate) fn paginate<T: Serialize>(
    items: Vec<T>,
    params: PageParams,
    url: &str,
) -> Result<Value, ApiError> {
    let count = items.len();
    let pages = count.div_ceil(params.page_size).max(1);
    if params.page > pages {
        return Err(PageParams::invalid_page());
    }
    let start = (params.page - 1) * params.page_size;
    let results: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(params.page_size)
        .collect();
    let next = (params.page < pages).then(|| with_page(url, Some(params.page + 1)));
    let previous = (params.page > 1).then(|| {
        if params.page == 2 {
            with_page(url, None)
        } else {
            with_page(url, Some(params.page - 1))
        }
    });
    Ok(json!({
        "count": count,
        "next": next,
        "previous": previous,
        "results": results,
    }))
}

/// `url` with its `page` parameter replaced by `page`, or removed for `None`.
fn with_page(url: &str, page: Option<usize>) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(name, _)| name != "page")
        .collect();
    if let Some(page) = page {
        pairs.push(("page".to_owned(), page.to_string()));
    }
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:1/api/v1/customers/?page_size=2&page=2";

    #[test]
    fn pages_link_to_their_neighbours() {
        let params = PageParams {
            page: 2,
            page_size: 2,
        };
        let page = paginate(vec![1, 2, 3, 4, 5], params, URL).unwrap();
        assert_eq!(page["count"], 5);
        assert_eq!(page["results"], json!([3, 4]));
        assert_eq!(
            page["next"],
            "http://127.0.0.1:1/api/v1/customers/?page_size=2&page=3"
        );
        assert_eq!(
            page["previous"],
            "http://127.0.0.1:1/api/v1/customers/?page_size=2"
        );
    }

    #[test]
    fn empty_list_has_one_page_and_past_the_end_is_invalid() {
        let first = PageParams {
            page: 1,
            page_size: 10,
        };
        let page = paginate(Vec::<u8>::new(), first, URL).unwrap();
        assert_eq!(page["count"], 0);
        assert_eq!(page["next"], Value::Null);
        let second = PageParams {
            page: 2,
            page_size: 10,
        };
        assert!(paginate(Vec::<u8>::new(), second, URL).is_err());
    }
}
