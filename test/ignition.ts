// The Ignition module deploys the same system as the SDK's deploySystem: wiring, roles, and a working factory.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { expect } from "chai";
import { ethers as ethersLib } from "ethers";
import { network } from "hardhat";

import CollateralSystemModule from "../ignition/modules/CollateralSystem.js";
import {
  AccessManager__factory,
  AgreementFactory__factory,
  CollateralVault__factory,
  type MockERC20,
  type MockPriceFeed,
} from "../types/ethers-contracts/index.js";
import { ROLES, bytecodeMetadata, deploySystem } from "../sdk/index.js";
import { AssetKind, ONE_DAY, defaultTerms } from "./fixtures.js";

describe("Ignition module CollateralSystem", function () {
  const [DEPLOYER, PLEDGOR, SECURED, GUARDIAN, OUTSIDER] = [0, 1, 2, 5, 6];

  /** Deploys the module on a fresh embedded chain; `parameters` may use that chain's signers. */
  async function deployed(
    parameters: (signers: HardhatEthersSigner[]) => Record<string, string | number> = () => ({}),
  ) {
    const connection = await network.create();
    const signers = await connection.ethers.getSigners();
    const result = await connection.ignition.deploy(CollateralSystemModule, {
      parameters: { CollateralSystem: parameters(signers) },
    });
    const addresses = {
      manager: await result.manager.getAddress(),
      implementation: await result.implementation.getAddress(),
      settlement: await result.settlement.getAddress(),
      factory: await result.factory.getAddress(),
      lens: await result.lens.getAddress(),
    };
    const factory = AgreementFactory__factory.connect(addresses.factory, signers[DEPLOYER]);
    const manager = AccessManager__factory.connect(addresses.manager, signers[DEPLOYER]);
    return { connection, signers, addresses, factory, manager };
  }

  it("wires the factory to the vault implementation, the DvP settlement and the AccessManager", async function () {
    const { connection, signers, addresses, factory, manager } = await deployed();
    expect(await factory.vaultImplementation()).to.equal(addresses.implementation);
    expect(await factory.settlement()).to.equal(addresses.settlement);
    expect(await factory.authority()).to.equal(addresses.manager);
    // The deployer is the AccessManager's admin, and, with no `guardian` parameter, the guardian.
    const deployer = signers[DEPLOYER].address;
    expect((await manager.hasRole(ROLES.ADMIN, deployer))[0]).to.equal(true);
    expect((await manager.hasRole(ROLES.GUARDIAN, deployer))[0]).to.equal(true);
    for (const address of Object.values(addresses)) {
      expect(await connection.ethers.provider.getCode(address)).to.not.equal("0x");
    }
  });

  it("deploys the same contracts as the SDK's deploySystem", async function () {
    const { connection, signers, addresses } = await deployed();
    const book = await deploySystem(signers[DEPLOYER], { network: "ignition-comparison" });
    const ignitionNames = {
      AccessManager: addresses.manager,
      CollateralVault: addresses.implementation,
      DvPSettlement: addresses.settlement,
      AgreementFactory: addresses.factory,
      CollateralLens: addresses.lens,
    };
    for (const [name, address] of Object.entries(ignitionNames)) {
      const code = await connection.ethers.provider.getCode(address);
      // The metadata hash commits to the sources and settings: the same compiled contract.
      expect(bytecodeMetadata(code).metadataHash, name).to.equal(
        book.contracts[name as keyof typeof ignitionNames].metadataHash,
      );
    }
  });

  it("restricts pause and unpause to the guardian given as a parameter", async function () {
    const { signers, factory, manager, addresses } = await deployed((s) => ({
      guardian: s[GUARDIAN].address,
    }));
    for (const fn of ["pause", "unpause"] as const) {
      const selector = factory.interface.getFunction(fn).selector;
      expect(await manager.getTargetFunctionRole(addresses.factory, selector)).to.equal(
        ROLES.GUARDIAN,
      );
    }
    expect((await manager.hasRole(ROLES.GUARDIAN, signers[GUARDIAN].address))[0]).to.equal(true);
    expect((await manager.hasRole(ROLES.GUARDIAN, signers[DEPLOYER].address))[0]).to.equal(false);
    const labelled = (await manager.queryFilter(manager.filters.RoleLabel(ROLES.GUARDIAN)))[0];
    expect(labelled.args.label).to.equal("GUARDIAN");

    await expect(factory.connect(signers[OUTSIDER]).pause())
      .to.be.revertedWithCustomError(factory, "AccessManagedUnauthorized")
      .withArgs(signers[OUTSIDER].address);
    // The deployer administers the roles but is not the guardian.
    await expect(factory.pause()).to.be.revertedWithCustomError(
      factory,
      "AccessManagedUnauthorized",
    );
    await factory.connect(signers[GUARDIAN]).pause();
    expect(await factory.paused()).to.equal(true);
    await expect(factory.connect(signers[OUTSIDER]).unpause()).to.be.revertedWithCustomError(
      factory,
      "AccessManagedUnauthorized",
    );
    await factory.connect(signers[GUARDIAN]).unpause();
    expect(await factory.paused()).to.equal(false);
  });

  it("takes the sequencer uptime feed and grace period as parameters, zero by default", async function () {
    const feed = "0x00000000000000000000000000000000000000aa";
    const { factory } = await deployed(() => ({
      sequencerUptimeFeed: feed,
      sequencerGracePeriod: 3600,
    }));
    const check = await factory.sequencerCheck();
    expect([check.uptimeFeed, check.gracePeriod]).to.deep.equal([
      ethersLib.getAddress(feed),
      3600n,
    ]);
    const defaults = await (await deployed()).factory.sequencerCheck();
    expect([defaults.uptimeFeed, defaults.gracePeriod]).to.deep.equal([ethersLib.ZeroAddress, 0n]);
  });

  it("opens an agreement through the deployed factory", async function () {
    const { connection, signers, factory, addresses } = await deployed();
    const { ethers } = connection;
    const tbill = (await ethers.deployContract("MockERC20", [
      "T-Bill",
      "TBILL",
      6,
    ])) as unknown as MockERC20;
    const feed = (await ethers.deployContract("MockPriceFeed", [
      8,
      1_00000000n,
    ])) as unknown as MockPriceFeed;
    const schedule = [
      {
        asset: await tbill.getAddress(),
        feed: await feed.getAddress(),
        kind: AssetKind.ERC20,
        maxPriceAge: ONE_DAY,
        minAnswer: 1n,
        maxAnswer: 10n ** 12n,
        haircutBps: 200n,
        concentrationCapBps: 10_000n,
      },
    ];
    const [pledgor, securedParty] = [signers[PLEDGOR], signers[SECURED]];
    const salt = ethersLib.id("ignition-agreement");
    const predicted = await factory.predictVault(
      pledgor.address,
      pledgor.address,
      securedParty.address,
      ethersLib.ZeroAddress,
      salt,
    );
    await expect(
      factory
        .connect(pledgor)
        .openAgreement(
          pledgor.address,
          securedParty.address,
          ethersLib.ZeroAddress,
          defaultTerms,
          schedule,
          salt,
        ),
    ).to.emit(factory, "AgreementOpened");
    expect(await factory.agreementCount()).to.equal(1n);
    expect(await factory.agreementAt(0)).to.equal(predicted);

    // The clone runs the deployed implementation and is usable: a deposit is accounted.
    const vault = CollateralVault__factory.connect(predicted, pledgor);
    await tbill.mint(pledgor.address, 1_000_000n);
    await tbill.connect(pledgor).approve(predicted, 1_000_000n);
    await vault.deposit(await tbill.getAddress(), 1_000_000n);
    expect(await tbill.balanceOf(predicted)).to.equal(1_000_000n);
    expect(await ethers.provider.getCode(addresses.implementation)).to.not.equal("0x");
  });
});
