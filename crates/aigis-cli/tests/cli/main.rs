//! End-to-end tests of the `aigis` binary: one test binary (one link step), modules per area.
//! The harness is `aigis-testkit`'s: a test that needs a tool from outside the repository says
//! which, and is reported skipped (ignored) without it — or failed under `CI=true`. Every test
//! function is listed here; one left out is dead code, which clippy refuses.

#[cfg(all(feature = "serve", feature = "notify"))]
mod agent;
mod cache;
mod code;
mod contract;
mod conventions;
mod deep;
mod deps;
#[cfg(feature = "detonate")]
mod detonate;
mod export;
mod fail_closed;
mod fixtures;
#[cfg(all(feature = "remote", feature = "inventory"))]
mod fleet;
mod golden;
mod inspect;
mod inventory;
mod metadata;
mod policy;
mod record;
#[cfg(feature = "remote")]
mod remote;
mod reports;
mod rules;
#[cfg(feature = "serve")]
mod serve;
mod signature;
mod support;
#[cfg(feature = "watch")]
mod watch;

use aigis_testkit::{Test, Tool};

fn main() -> std::process::ExitCode {
    aigis_testkit::run(vec![
        Test::new(
            "metadata::secrets_are_found_and_redacted_in_every_format",
            metadata::secrets_are_found_and_redacted_in_every_format,
        ),
        Test::new(
            "metadata::look_alikes_are_silent",
            metadata::look_alikes_are_silent,
        ),
        Test::new(
            "metadata::licenses_are_in_the_models_json_and_the_boms",
            metadata::licenses_are_in_the_models_json_and_the_boms,
        ),
        Test::new(
            "metadata::license_policy_denies_and_requires",
            metadata::license_policy_denies_and_requires,
        ),
        Test::new(
            "signature::every_signed_model_verifies_and_every_tampered_copy_names_its_file",
            signature::every_signed_model_verifies_and_every_tampered_copy_names_its_file,
        ),
        Test::new(
            "signature::a_wrong_key_or_signer_is_invalid",
            signature::a_wrong_key_or_signer_is_invalid,
        ),
        Test::new(
            "signature::verification_is_fully_offline",
            signature::verification_is_fully_offline,
        )
        .needs(Tool::UnshareNet),
        Test::new(
            "signature::scan_and_bom_carry_the_signature",
            signature::scan_and_bom_carry_the_signature,
        ),
        Test::new(
            "signature::require_signature_policy_fails_an_unsigned_model",
            signature::require_signature_policy_fails_an_unsigned_model,
        ),
        Test::new(
            "code::a_load_site_is_linked_to_the_model_it_loads",
            code::a_load_site_is_linked_to_the_model_it_loads,
        ),
        Test::new(
            "deps::the_shipped_database_flags_a_vulnerable_pin_and_says_how_old_it_is",
            deps::the_shipped_database_flags_a_vulnerable_pin_and_says_how_old_it_is,
        ),
        Test::new(
            "deps::requirements_includes_are_followed_as_pip_does_and_never_skipped_quietly",
            deps::requirements_includes_are_followed_as_pip_does_and_never_skipped_quietly,
        ),
        Test::new(
            "record::a_model_replaced_in_a_writable_folder_is_a_critical_change",
            record::a_model_replaced_in_a_writable_folder_is_a_critical_change,
        ),
        Test::new(
            "record::a_saved_report_ingests_and_a_bad_database_fails_the_run",
            record::a_saved_report_ingests_and_a_bad_database_fails_the_run,
        ),
        Test::new(
            "record::boms_go_in_and_the_inventory_comes_out_as_one_ml_bom",
            record::boms_go_in_and_the_inventory_comes_out_as_one_ml_bom,
        )
        .needs(Tool::Schemas),
        #[cfg(feature = "serve")]
        Test::new(
            "serve::serve_takes_pushed_reports_with_a_token_and_stops_on_sigterm",
            serve::serve_takes_pushed_reports_with_a_token_and_stops_on_sigterm,
        ),
        #[cfg(feature = "serve")]
        Test::new(
            "serve::the_dashboard_shows_the_scenario_in_headless_chromium",
            serve::the_dashboard_shows_the_scenario_in_headless_chromium,
        )
        .needs(Tool::Chromium)
        .needs(Tool::ChromeDriver),
        Test::new(
            "record::webhooks_hear_of_policy_violations_and_failed_scans_without_an_inventory",
            record::webhooks_hear_of_policy_violations_and_failed_scans_without_an_inventory,
        ),
        Test::new(
            "deps::db_update_installs_a_validated_osv_export",
            deps::db_update_installs_a_validated_osv_export,
        ),
        Test::new(
            "deps::the_bom_lists_ml_libraries_and_links_code_to_the_models_it_loads",
            deps::the_bom_lists_ml_libraries_and_links_code_to_the_models_it_loads,
        )
        .needs(Tool::Schemas),
        Test::new(
            "deps::the_spdx_bom_carries_the_same_links_and_reads_back",
            deps::the_spdx_bom_carries_the_same_links_and_reads_back,
        )
        .needs(Tool::SpdxPython),
        Test::new(
            "inspect::a_pickle_is_shown_as_the_program_it_runs",
            inspect::a_pickle_is_shown_as_the_program_it_runs,
        ),
        Test::new(
            "inspect::an_archive_lists_its_members_with_verdicts_and_every_pickle_program",
            inspect::an_archive_lists_its_members_with_verdicts_and_every_pickle_program,
        ),
        Test::new(
            "inspect::a_config_is_shown_as_the_objects_it_instantiates",
            inspect::a_config_is_shown_as_the_objects_it_instantiates,
        ),
        Test::new(
            "inspect::what_a_pickle_says_cannot_drive_the_terminal",
            inspect::what_a_pickle_says_cannot_drive_the_terminal,
        ),
        Test::new(
            "inventory::models_are_grouped_as_people_think_of_them",
            inventory::models_are_grouped_as_people_think_of_them,
        ),
        #[cfg(feature = "remote")]
        Test::new(
            "remote::remote_errors_say_what_to_do",
            remote::remote_errors_say_what_to_do,
        )
        .needs(Tool::MotoServer)
        .needs(Tool::Python3),
        Test::new(
            "conventions::severity_filter_fail_on_none_and_environment_variables",
            conventions::severity_filter_fail_on_none_and_environment_variables,
        ),
        Test::new(
            "conventions::quiet_is_silent_on_success_and_says_why_on_failure",
            conventions::quiet_is_silent_on_success_and_says_why_on_failure,
        ),
        Test::new(
            "conventions::the_verdict_is_about_content_exposure_is_about_location",
            conventions::the_verdict_is_about_content_exposure_is_about_location,
        ),
        Test::new(
            "conventions::sarif_alerts_are_findings_and_survive_reruns",
            conventions::sarif_alerts_are_findings_and_survive_reruns,
        ),
        Test::new(
            "fail_closed::a_huge_file_is_analysed_before_it_is_hashed",
            fail_closed::a_huge_file_is_analysed_before_it_is_hashed,
        ),
        Test::new(
            "contract::content_never_reaches_the_terminal_raw",
            contract::content_never_reaches_the_terminal_raw,
        ),
        Test::new(
            "cache::the_cache_cannot_be_told_what_to_say",
            cache::the_cache_cannot_be_told_what_to_say,
        ),
        Test::new(
            "fail_closed::a_policy_inside_the_scanned_content_is_not_applied",
            fail_closed::a_policy_inside_the_scanned_content_is_not_applied,
        ),
        Test::new(
            "fail_closed::ignore_files_are_obeyed_only_from_the_operator",
            fail_closed::ignore_files_are_obeyed_only_from_the_operator,
        ),
        Test::new(
            "fail_closed::a_hugging_face_snapshot_folder_is_scanned_through_its_links",
            fail_closed::a_hugging_face_snapshot_folder_is_scanned_through_its_links,
        ),
        Test::new(
            "fail_closed::what_was_not_scanned_fails_the_run",
            fail_closed::what_was_not_scanned_fails_the_run,
        ),
        Test::new(
            "cache::cache_hit_returns_identical_results",
            cache::cache_hit_returns_identical_results,
        ),
        Test::new(
            "cache::changed_and_corrupt_entries_are_rescanned",
            cache::changed_and_corrupt_entries_are_rescanned,
        ),
        Test::new(
            "cache::a_model_name_is_judged_whatever_the_cache_holds",
            cache::a_model_name_is_judged_whatever_the_cache_holds,
        ),
        Test::new(
            "contract::json_has_contract_fields_and_exit_code_reflects_threshold",
            contract::json_has_contract_fields_and_exit_code_reflects_threshold,
        ),
        Test::new(
            "contract::usage_errors_exit_2",
            contract::usage_errors_exit_2,
        ),
        Test::new(
            "contract::terminal_report_lists_verdict_and_summary",
            contract::terminal_report_lists_verdict_and_summary,
        ),
        Test::new(
            "contract::allow_global_turns_a_class_finding_off",
            contract::allow_global_turns_a_class_finding_off,
        ),
        Test::new(
            "contract::time_limit_reports_error_and_scan_goes_on",
            contract::time_limit_reports_error_and_scan_goes_on,
        ),
        Test::new(
            "deep::every_deep_fixture_is_judged_with_deep_and_untouched_without",
            deep::every_deep_fixture_is_judged_with_deep_and_untouched_without,
        ),
        Test::new(
            "deep::a_large_checkpoint_is_checked_in_the_hashing_pass",
            deep::a_large_checkpoint_is_checked_in_the_hashing_pass,
        ),
        Test::new(
            "fixtures::every_fixture_matches_its_manifest_row",
            fixtures::every_fixture_matches_its_manifest_row,
        ),
        Test::new(
            "golden::every_fixture_result_matches_its_golden_file",
            golden::every_fixture_result_matches_its_golden_file,
        ),
        Test::new(
            "inventory::discover_lists_hub_cache_models_with_revision_license_and_architecture",
            inventory::discover_lists_hub_cache_models_with_revision_license_and_architecture,
        ),
        Test::new(
            "inventory::discover_recognises_ollama_and_torch_hub_layouts",
            inventory::discover_recognises_ollama_and_torch_hub_layouts,
        ),
        Test::new(
            "inventory::image_layers_are_applied_with_whiteouts_and_models_name_their_layer",
            inventory::image_layers_are_applied_with_whiteouts_and_models_name_their_layer,
        ),
        Test::new(
            "inventory::world_writable_model_folder_is_reported_normal_one_is_not",
            inventory::world_writable_model_folder_is_reported_normal_one_is_not,
        ),
        Test::new(
            "inventory::symlinks_are_followed_and_a_link_out_of_the_tree_is_context",
            inventory::symlinks_are_followed_and_a_link_out_of_the_tree_is_context,
        ),
        Test::new(
            "inventory::cyclonedx_bom_validates_and_says_which_models_are_unsafe",
            inventory::cyclonedx_bom_validates_and_says_which_models_are_unsafe,
        )
        .needs(Tool::Schemas),
        Test::new(
            "inventory::spdx_bom_reads_back_with_the_official_bindings",
            inventory::spdx_bom_reads_back_with_the_official_bindings,
        )
        .needs(Tool::SpdxPython),
        Test::new(
            "policy::policy_allowing_a_team_class_turns_its_medium_finding_off",
            policy::policy_allowing_a_team_class_turns_its_medium_finding_off,
        ),
        Test::new(
            "policy::policy_is_discovered_from_the_current_folder",
            policy::policy_is_discovered_from_the_current_folder,
        ),
        Test::new(
            "policy::denied_callable_becomes_critical",
            policy::denied_callable_becomes_critical,
        ),
        Test::new(
            "policy::suppressions_stay_visible_and_expired_ones_are_reported",
            policy::suppressions_stay_visible_and_expired_ones_are_reported,
        ),
        Test::new(
            "policy::severity_overrides_and_path_filters",
            policy::severity_overrides_and_path_filters,
        ),
        Test::new(
            "policy::invalid_policy_reports_line_and_column",
            policy::invalid_policy_reports_line_and_column,
        ),
        Test::new(
            "policy::changed_since_scans_only_changed_files",
            policy::changed_since_scans_only_changed_files,
        ),
        Test::new(
            "policy::the_policy_applies_to_bom_and_discover_as_to_scan",
            policy::the_policy_applies_to_bom_and_discover_as_to_scan,
        ),
        #[cfg(all(feature = "serve", feature = "notify"))]
        Test::new(
            "agent::an_agent_pushes_changes_and_spools_them_while_the_server_is_down",
            agent::an_agent_pushes_changes_and_spools_them_while_the_server_is_down,
        ),
        #[cfg(all(feature = "remote", feature = "inventory"))]
        Test::new(
            "fleet::an_azure_container_is_listed_sharded_and_skipped_when_unchanged",
            fleet::an_azure_container_is_listed_sharded_and_skipped_when_unchanged,
        )
        .needs(Tool::Azurite),
        #[cfg(all(feature = "remote", feature = "inventory"))]
        Test::new(
            "fleet::a_worker_stops_cleanly_on_sigterm",
            fleet::a_worker_stops_cleanly_on_sigterm,
        ),
        #[cfg(all(feature = "remote", feature = "inventory"))]
        Test::new(
            "fleet::three_workers_survive_a_kill_and_a_postgres_restart_and_record_each_object_once",
            fleet::three_workers_survive_a_kill_and_a_postgres_restart_and_record_each_object_once,
        )
        .needs(Tool::MotoServer)
        .needs(Tool::Postgres),
        #[cfg(feature = "remote")]
        Test::new(
            "remote::s3_one_gigabyte_checkpoint_is_scanned_with_range_reads",
            remote::s3_one_gigabyte_checkpoint_is_scanned_with_range_reads,
        )
        .needs(Tool::MotoServer),
        #[cfg(feature = "remote")]
        Test::new(
            "remote::s3_public_write_policy_marks_every_model_under_it",
            remote::s3_public_write_policy_marks_every_model_under_it,
        )
        .needs(Tool::MotoServer),
        #[cfg(feature = "remote")]
        Test::new(
            "remote::s3_without_permission_to_read_the_configuration_says_so",
            remote::s3_without_permission_to_read_the_configuration_says_so,
        )
        .needs(Tool::MotoServer),
        #[cfg(feature = "remote")]
        Test::new(
            "remote::same_findings_from_local_disk_s3_azure_and_the_hub",
            remote::same_findings_from_local_disk_s3_azure_and_the_hub,
        )
        .needs(Tool::MotoServer)
        .needs(Tool::Azurite)
        .needs(Tool::Python3),
        #[cfg(feature = "remote")]
        Test::new(
            "remote::one_failing_object_does_not_stop_the_scan",
            remote::one_failing_object_does_not_stop_the_scan,
        )
        .needs(Tool::Python3),
        Test::new(
            "reports::sarif_validates_and_has_what_github_reads",
            reports::sarif_validates_and_has_what_github_reads,
        )
        .needs(Tool::Schemas),
        Test::new(
            "reports::cyclonedx_validates_and_links_findings_to_components",
            reports::cyclonedx_validates_and_links_findings_to_components,
        )
        .needs(Tool::Schemas),
        Test::new(
            "reports::junit_has_one_case_per_file_and_fails_at_the_threshold",
            reports::junit_has_one_case_per_file_and_fails_at_the_threshold,
        ),
        Test::new(
            "reports::markdown_comment_has_summary_and_top_findings",
            reports::markdown_comment_has_summary_and_top_findings,
        ),
        Test::new(
            "reports::several_outputs_in_one_run",
            reports::several_outputs_in_one_run,
        ),
        Test::new(
            "reports::html_escapes_file_names",
            reports::html_escapes_file_names,
        ),
        Test::new(
            "reports::html_report_renders_in_headless_chromium",
            reports::html_report_renders_in_headless_chromium,
        )
        .needs(Tool::Chromium),
        Test::new(
            "reports::html_report_with_a_thousand_findings_stays_usable",
            reports::html_report_with_a_thousand_findings_stays_usable,
        )
        .needs(Tool::Chromium),
        Test::new(
            "rules::every_rule_is_produced_by_a_fixture_or_a_named_test",
            rules::every_rule_is_produced_by_a_fixture_or_a_named_test,
        ),
        Test::new(
            "rules::docs_rules_md_is_generated_from_the_catalogue",
            rules::docs_rules_md_is_generated_from_the_catalogue,
        ),
        Test::new(
            "rules::catalogue_lists_and_explains_rules",
            rules::catalogue_lists_and_explains_rules,
        ),
        #[cfg(all(feature = "watch", feature = "serve"))]
        Test::new(
            "serve::watch_pushes_what_it_scans_to_the_server",
            serve::watch_pushes_what_it_scans_to_the_server,
        ),
        #[cfg(feature = "detonate")]
        Test::new(
            "detonate::a_detonated_payload_is_seen_running_and_reaches_nothing",
            detonate::a_detonated_payload_is_seen_running_and_reaches_nothing,
        )
        .needs(Tool::Bubblewrap)
        .needs(Tool::Strace)
        .needs(Tool::Python3),
        #[cfg(feature = "detonate")]
        Test::new(
            "detonate::the_sandbox_is_torn_down_whatever_the_payload_does",
            detonate::the_sandbox_is_torn_down_whatever_the_payload_does,
        )
        .needs(Tool::Bubblewrap)
        .needs(Tool::Strace)
        .needs(Tool::Python3),
        Test::new(
            "export::falco_rules_follow_falcos_schema_and_fields",
            export::falco_rules_follow_falcos_schema_and_fields,
        ),
        Test::new(
            "export::tetragon_policy_follows_the_crd_schema",
            export::tetragon_policy_follows_the_crd_schema,
        ),
        #[cfg(feature = "inventory")]
        Test::new(
            "export::export_watches_the_models_the_inventory_holds",
            export::export_watches_the_models_the_inventory_holds,
        ),
        #[cfg(feature = "detonate")]
        Test::new(
            "detonate::every_fixture_detonated_runtime_never_sees_what_static_missed",
            detonate::every_fixture_detonated_runtime_never_sees_what_static_missed,
        )
        .needs(Tool::Bubblewrap)
        .needs(Tool::Strace)
        .needs(Tool::FrameworkPython),
        #[cfg(feature = "detonate")]
        Test::new(
            "detonate::a_detonated_clean_model_attempts_nothing",
            detonate::a_detonated_clean_model_attempts_nothing,
        )
        .needs(Tool::Bubblewrap)
        .needs(Tool::Strace)
        .needs(Tool::Python3),
        #[cfg(feature = "watch")]
        Test::new(
            "watch::a_finished_file_is_reported_quickly_and_an_idle_watch_costs_nothing",
            watch::a_finished_file_is_reported_quickly_and_an_idle_watch_costs_nothing,
        ),
        #[cfg(feature = "watch")]
        Test::new(
            "watch::files_are_scanned_once_when_complete_and_the_folder_may_come_and_go",
            watch::files_are_scanned_once_when_complete_and_the_folder_may_come_and_go,
        ),
    ])
}
