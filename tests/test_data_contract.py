"""The data contract pinned to fixed values: what production rows are already keyed by.

Every other test computes expected keys with `eventaudit.storage.keys` itself, so a change of the key
format or hash would pass them and orphan the rows already recorded. These literals follow the data
contract (docs/data-contract.md) and were computed once; they must never change. They are also
checked in fresh processes with other PYTHONHASHSEEDs: scaled-out instances and the readers must
agree on every partition, which a per-process hash (Python's hash()) would break.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import load_sample, rows

ROOT = Path(__file__).resolve().parent.parent
IDENTITY = "0123456789abcdef0123456789abcdef"

# What `contract_values()` must answer, in any process.
GOLDEN = {
    "event_row_key": "2516069444968765439-0123456789abcdef0123456789abcdef",
    "inverted_ticks": "2516069444968765439",
    "cache_partition": "contoso-sessions",
    "key_shards": {"Checkout:Timeout": 3, "FeatureManagement/NewCheckout": 13, "": 2, "ключ/€😀": 1,
                   "a" * 10_000: 1},
    "key_partition": "contoso-03",
    "store_partitions": [f"contoso-{n:02d}" for n in range(16)],
    "snapshot_partition": "contoso-snapshots",
    "key_row_key": "f59571b0a245ad9168b33e140df0b5fca8a3332c1713621bff966e9250c30025",
    "key_row_key_no_label": "729943495d898fd6ef5fb63492ad64bb2294fb676f4bc974a2680aa9eeb0caba",
    "key_row_key_unicode": "ece41eba46819637e13f9d8f3f9341cfd5b7fb74870e1781d5f20cb06070df35",
    "unhandled_partition": "2026-11-22-07",
    "unhandled_partition_undated": "undated-15",
    "key_state_version": "0639309531031234560.00000000000001696045.0123456789abcdef0123456789abcdef",
    "key_state_version_no_sn": "0639309531031234560.00000000000000000000.abc",
    "control_plane_partition": "contoso-sessions-c80e686d",
    "regional_resource_row_key": "contoso-amr~2eccddd9",
    "state_row_key": "6983b123e0c0027676cfa5c619b41101db8d5261752b01adba47d444bd864516",
    "chain_row_key_newest_first": "6983b123e0c0027676cfa5c619b41101db8d5261752b01adba47d444bd864516-n-"
                                  "2516069444968765439-0123456789abcdef0123456789abcdef",
    "chain_row_key_oldest_first": "6983b123e0c0027676cfa5c619b41101db8d5261752b01adba47d444bd864516-o-"
                                  "0639309531031234560-fedcba9876543210fedcba9876543210",
    "revision_row_key": "b11e5d38b0a92ee7c27a6fb13947b688357de31d0f20a6357be5f2427084ab15",
    "pending_capture_row_key": "b11e5d38b0a92ee7c27a6fb13947b688357de31d0f20a6357be5f2427084ab15-d",
}

# The values, computed by the app's own code; run as a script in a fresh process too.
PROGRAM = """
import datetime as dt, json, sys
from eventaudit.storage import keys
from eventaudit.timestamps import inverted_ticks
t = dt.datetime(2026, 11, 22, 14, 5, 3, 123456, tzinfo=dt.UTC)
identity = sys.argv[1]
SUB = "/subscriptions/5b4b650e-28b9-4790-b3ab-ddbd88d727c4/resourcegroups/platform-prod/providers"
SESSIONS, AMR = SUB + "/microsoft.cache/redis/contoso-sessions", SUB + "/microsoft.cache/redisenterprise/contoso-amr"
print(json.dumps({
    "event_row_key": keys.event_row_key(t, identity),
    "inverted_ticks": inverted_ticks(t),
    "cache_partition": keys.cache_partition("Contoso-Sessions"),
    "key_shards": {k: keys.key_shard(k) for k in
                   ["Checkout:Timeout", "FeatureManagement/NewCheckout", "", "ключ/€😀", "a" * 10000]},
    "key_partition": keys.key_partition("Contoso", "Checkout:Timeout"),
    "store_partitions": keys.store_partitions("Contoso"),
    "snapshot_partition": keys.snapshot_partition("Contoso"),
    "key_row_key": keys.key_row_key("Checkout:Timeout", "Production"),
    "key_row_key_no_label": keys.key_row_key("Checkout:Timeout", ""),
    "key_row_key_unicode": keys.key_row_key("ключ/€😀#?", "\\u0000"),
    "unhandled_partition": keys.unhandled_partition(t, identity),
    "unhandled_partition_undated": keys.unhandled_partition(None, "ffffffff0123"),
    "key_state_version": keys.key_state_version(t, 1696045, identity),
    "key_state_version_no_sn": keys.key_state_version(t, -1, "abc"),
    "control_plane_partition": keys.control_plane_partition("Contoso-Sessions", SESSIONS),
    "regional_resource_row_key": keys.regional_resource_row_key("Contoso-AMR", AMR),
    "state_row_key": keys.state_row_key(AMR + "/databases/default"),
    "chain_row_key_newest_first": keys.chain_row_key(AMR + "/databases/default", "n", t, identity),
    "chain_row_key_oldest_first": keys.chain_row_key(AMR + "/databases/default", "o", t, identity),
    "revision_row_key": keys.revision_row_key("Checkout:Timeout", "Production", "FnUExLaj2moIi4tJX9AXn9sakm0"),
    "pending_capture_row_key": keys.pending_capture_row_key("Checkout:Timeout", "Production",
                                                            "FnUExLaj2moIi4tJX9AXn9sakm0", "Deleted"),
}, ensure_ascii=False))
"""


def contract_values(hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONIOENCODING": "utf-8"}
    completed = subprocess.run([sys.executable, "-c", PROGRAM, IDENTITY], cwd=ROOT, env=env,
                               capture_output=True, text=True, encoding="utf-8", check=True)
    return json.loads(completed.stdout)


@pytest.mark.parametrize("hash_seed", ["0", "1", "4242", "random"])
def test_keys_are_the_documented_values_in_any_process(hash_seed):
    assert contract_values(hash_seed) == GOLDEN


# Sample events as recorded (Azurite): the exact PartitionKey and RowKey of each row. The RowKey ends
# with the event identity, sha256 of [lower-cased source, type, id], so this pins that hash too.
RECORDED = [
    ("redis-eventgrid", 0, "RedisCacheEvents", "contoso-sessions",
     "2516070893800004339-f4618289b176c35cec98e3a125ebf535"),
    ("appconfig-cloudevents", 0, "AppConfigurationEvents", "contoso-dev-05",
     "2516069363999999999-5156b87c7ff6bf7c21ffb1c12c862b48"),
    ("control-plane-eventgrid", 1, "ControlPlaneEvents", "contoso-sessions-c80e686d",
     "2516070905325540729-c721db49ed992dec6bdca74af877be38"),
    ("control-plane-cloudevents", 0, "ControlPlaneEvents", "contoso-amr-2eccddd9",
     "2516070455951187729-05cf758dc6a408f000284feeb9985668"),
]


@pytest.mark.parametrize(("sample", "index", "table", "partition", "row_key"), RECORDED)
def test_sample_events_are_recorded_under_their_documented_keys(store, send, sample, index, table,
                                                                partition, row_key):
    send(load_sample(sample)[index])
    [row] = rows(store, table)
    assert (row["PartitionKey"], row["RowKey"]) == (partition, row_key)
