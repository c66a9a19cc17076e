# An analyst's R client of the hub's analysis API (docs/analysts.md).
# Needs the httr2 and arrow packages. Set HUB_URL and HUB_TOKEN (from `hub users token`).
library(httr2)
library(arrow)

hub <- function(path) {
  request(paste0(Sys.getenv("HUB_URL", "http://127.0.0.1:8000"), "/api/v1/analysis", path)) |>
    req_auth_bearer_token(Sys.getenv("HUB_TOKEN")) |>
    req_timeout(120)
}

sql <- "SELECT event_month, coalesce(local_authority, home_local_authority) AS area
        FROM event WHERE event_type = 'ed_assault_attendance' AND flag_knife"

# A controlled table of counts as Arrow: suppressed counts are NA, the rest rounded to 5.
counts <- hub("/projects/knife-crime-profile/query") |>
  req_url_query(format = "arrow") |>
  req_body_json(list(sql = sql)) |>
  req_perform() |>
  resp_body_raw() |>
  read_ipc_stream()
print(counts)

# A measure by area and month as CSV ("[c]" marks a suppressed count).
measure <- hub("/projects/knife-crime-profile/measures/ed_knife_assault") |>
  req_url_query(format = "csv") |>
  req_perform() |>
  resp_body_string() |>
  read.csv(text = _, na.strings = "[c]")
print(head(measure))

# Row-level projects only: the project's view of a release as Parquet.
# hub("/projects/<project>/releases/<release-id>/tables/event.parquet") |>
#   req_perform(path = "event.parquet"); events <- read_parquet("event.parquet")
